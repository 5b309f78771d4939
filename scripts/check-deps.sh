#!/usr/bin/env bash
# Fails when a package imports a project package that DESIGN.md's import table
# does not allow. Sub-packages inherit the rules of their top-level folder.
set -euo pipefail
mod=github.com/sluice-gateway/sluice
declare -A allow=(
  [codec]=""
  [route]=""
  [core]="codec"
  [plugin]="codec core route"
  [l4]="core plugin route"
  [l7]="core plugin route codec"
  [cmd]="*"
  [internal]="*"
)
bad=0
while read -r pkg imports; do
  rel=${pkg#"$mod"}; rel=${rel#/}
  top=${rel%%/*}
  [ -z "$top" ] && continue
  rules=${allow[$top]-__unknown__}
  if [ "$rules" = "__unknown__" ]; then
    echo "deps: $pkg: folder '$top' is not in the import table (DESIGN.md)"; bad=1; continue
  fi
  [ "$rules" = "*" ] && continue
  for imp in $imports; do
    case "$imp" in "$mod"/*) ;; *) continue ;; esac
    irel=${imp#"$mod"/}; itop=${irel%%/*}
    [ "$itop" = "$top" ] && continue
    ok=0
    for r in $rules; do [ "$r" = "$itop" ] && ok=1; done
    if [ $ok = 0 ]; then echo "deps: $rel imports $irel; '$top' may import only: ${rules:-nothing}"; bad=1; fi
  done
done < <(go list -f '{{.ImportPath}} {{join .Imports " "}}' ./...)
[ $bad = 0 ] && echo "deps: import map ok"
exit $bad

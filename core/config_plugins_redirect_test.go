package core

import (
	"strings"
	"testing"
)

func TestPluginAttrRedirect(t *testing.T) {
	dir := t.TempDir()
	c, err := LoadConfig(writeFile(t, dir, "config.yaml", "config: {provider: yaml}\nplugin_attr: {redirect: {https_port: 9443}}\n"))
	if err != nil || c.PluginAttr.Redirect.HTTPSPort != 9443 {
		t.Fatalf("https_port: %v %+v", err, c)
	}
	_, err = LoadConfig(writeFile(t, dir, "config.yaml", "config: {provider: yaml}\nplugin_attr: {redirect: {https_port: 70000}}\n"))
	if want := "plugin_attr.redirect.https_port: want 1 to 65535 (0: 443), got 70000"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %q", err, want)
	}
}

package flagkv

import "testing"

func TestKV(t *testing.T) {
	kv := KV{}
	for _, s := range []string{"a=1", "b=x=y", "empty="} {
		if err := kv.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	if kv["b"] != "x=y" || kv["empty"] != "" || kv.String() != "a=1,b=x=y,empty=" {
		t.Errorf("%v", kv)
	}
	for _, bad := range []string{"novalue", "=v"} {
		if err := kv.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}

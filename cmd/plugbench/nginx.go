package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// nginxConfig is nginx as a single-process keepalive reverse proxy setting
// the upstream credential. Keepalive limits are raised so that neither side
// reconnects every 1000 requests, as the Go proxies never do.
const nginxConfig = `daemon off;
master_process off;
worker_processes 1;
pid {{dir}}/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path {{dir}}/body;
    proxy_temp_path {{dir}}/proxy;
    fastcgi_temp_path {{dir}}/fastcgi;
    uwsgi_temp_path {{dir}}/uwsgi;
    scgi_temp_path {{dir}}/scgi;
    keepalive_requests 1000000;
    upstream backend {
        server {{backend}};
        keepalive 256;
        keepalive_requests 1000000;
    }
    server {
        listen {{listen}};
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Authorization "{{auth}}";
        }
    }
}
`

// nginxPath finds nginx, which Debian installs in /usr/sbin.
func nginxPath() (string, bool) {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, true
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx", true
	}
	return "", false
}

// startNginx starts nginx, or returns nil with a note when it is not
// installed.
func (r *rig) startNginx(ctx context.Context) (*target, error) {
	bin, ok := nginxPath()
	if !ok {
		r.skipped = append(r.skipped, "nginx: not installed (apt-get install -y nginx-light), skipped")
		return nil, nil
	}
	dir := filepath.Join(r.dir, "nginx")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := strings.NewReplacer("{{dir}}", dir, "{{backend}}", strings.TrimPrefix(r.backend, "http://"),
		"{{listen}}", hostPort(port), "{{auth}}", "Bearer "+r.key).Replace(nginxConfig)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	p, err := start("nginx", pinned(ctx, r.pin.target, bin, "-p", dir, "-c", path, "-e", "stderr"))
	if err != nil {
		return nil, err
	}
	r.procs = append(r.procs, p)
	if err := p.waitHTTP(ctx, "http://"+hostPort(port)+"/", 0); err != nil {
		return nil, err
	}
	return newTarget("nginx", "nginx", fmt.Sprintf("http://%s%s", hostPort(port), apiPath), "Bearer "+r.token, p), nil
}

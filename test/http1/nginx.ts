/**
 * nginx for the tests and the bench: a one-worker nginx with a config written to a temp dir,
 * as an upstream (static files, fixed answers) or as a reverse proxy.
 */
import { mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';

export interface NginxSite {
  dir: string;
  conf: string;
}

/** Writes an nginx.conf under `dir`; `server` is the body of one `server {}` block. */
export function writeNginxConf(dir: string, server: string, extraHttp = ''): NginxSite {
  mkdirSync(join(dir, 'files'), { recursive: true });
  chmodSync(dir, 0o755);
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;
daemon off;
master_process off;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_max_body_size 0;
  keepalive_requests 1000000;
  ${extraHttp}
  server {
${server}
  }
}
`,
  );
  return { dir, conf };
}

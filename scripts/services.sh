#!/usr/bin/env bash
# Make sure the real components the tests use are installed and running on loopback:
# PostgreSQL, Redis, an S3-compatible server (moto in server mode, its own process),
# Chromium for browser tests and coturn for the TURN test. Installs with apt when missing.
# Exits non-zero if one cannot be had: the suite must fail, not skip.
set -euo pipefail
cd "$(dirname "$0")/.."
APT_UPDATED=0
apt_install() {
  if [ "$APT_UPDATED" = 0 ]; then apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
wait_port() {  # host port seconds
  for _ in $(seq 1 $(( $3 * 10 ))); do
    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# PostgreSQL
if ! command -v pg_ctlcluster >/dev/null 2>&1; then apt_install postgresql; fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  if ! grep -q "^host.*127.0.0.1/32.*trust" "/etc/postgresql/$version/main/pg_hba.conf"; then
    sed -i '1i host all all 127.0.0.1/32 trust' "/etc/postgresql/$version/main/pg_hba.conf"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_port 127.0.0.1 5432 30 || { echo "PostgreSQL did not start" >&2; exit 1; }
fi
psql -h 127.0.0.1 -U postgres -tAc "SELECT 1" >/dev/null

# Redis
if ! command -v redis-server >/dev/null 2>&1; then apt_install redis-server; fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_port 127.0.0.1 6379 10 || { echo "Redis did not start" >&2; exit 1; }
fi

# S3-compatible server (moto in server mode, a separate process on loopback)
S3_PORT=${S3_PORT:-9123}
if ! wait_port 127.0.0.1 "$S3_PORT" 0 2>/dev/null; then
  mkdir -p var
  nohup .venv/bin/moto_server -H 127.0.0.1 -p "$S3_PORT" > var/moto.log 2>&1 &
  wait_port 127.0.0.1 "$S3_PORT" 30 || { echo "S3 server did not start (var/moto.log)" >&2; exit 1; }
fi
# The tests' bucket (the test settings point django-storages at it in pass 2).
.venv/bin/python - "$S3_PORT" <<'PY'
import sys

import boto3

s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", aws_access_key_id="testing",
                  aws_secret_access_key="testing", region_name="us-east-1")
if "openrounds-test" not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
    s3.create_bucket(Bucket="openrounds-test")
PY

# gettext for compilemessages
if ! command -v msgfmt >/dev/null 2>&1; then apt_install gettext; fi
# DejaVu Sans (Latin and Arabic) for the certificates' and portfolio's PDFs (sessions/record/pdf.py)
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] && [ ! -f /usr/share/fonts/dejavu/DejaVuSans.ttf ]; then
  apt_install fonts-dejavu-core
fi

# Chromium for the browser tests, coturn for the TURN test
if ! command -v chromium >/dev/null 2>&1; then apt_install chromium; fi
if ! command -v turnserver >/dev/null 2>&1; then apt_install coturn; fi
# npm for the accessibility tests' axe-core (scripts/npm.sh)
if ! command -v npm >/dev/null 2>&1; then apt_install npm; fi
echo "services: postgresql, redis, s3 (port $S3_PORT), chromium, coturn, npm ready"

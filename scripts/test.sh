#!/usr/bin/env bash
# The whole test suite, twice where it matters:
#   1. embedded defaults: SQLite, in-memory channel layer, local files;
#   2. the production components: PostgreSQL, Redis, an S3-compatible server,
#      plus the browser (Chromium) tests.
# Real components are started (or installed) by scripts/services.sh; if one cannot be
# had the run fails. Extra arguments go to pytest in both passes.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/venv.sh
bash scripts/services.sh
bash scripts/npm.sh
bash scripts/lint.sh
export REQUIRE_REAL_SERVICES=1
DEBUG=1 .venv/bin/python manage.py compilemessages --ignore=.venv -v0

echo "=== pass 1: SQLite, in-memory channel layer, local files"
# Each pass is bounded as a whole too (pytest-timeout bounds each test).
timeout --kill-after=30 1200 env -u DATABASE_URL -u REDIS_URL -u AWS_STORAGE_BUCKET_NAME TEST_PASS=embedded \
  .venv/bin/python -m pytest -m "not browser and not realservices" -p no:cacheprovider "$@"

echo "=== pass 2: PostgreSQL, Redis, S3-compatible storage, Chromium"
S3_PORT=${S3_PORT:-9123}
timeout --kill-after=30 2700 env TEST_PASS=production \
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/openrounds" \
  REDIS_URL="redis://127.0.0.1:6379/0" \
  AWS_STORAGE_BUCKET_NAME="openrounds-test" \
  AWS_S3_ENDPOINT_URL="http://127.0.0.1:$S3_PORT" \
  AWS_ACCESS_KEY_ID="testing" AWS_SECRET_ACCESS_KEY="testing" AWS_S3_REGION_NAME="us-east-1" \
  .venv/bin/python -m pytest -p no:cacheprovider "$@"

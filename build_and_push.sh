#!/usr/bin/env bash
# Build the image and push it to Amazon ECR, as AWS's scikit_bring_your_own example does.
# usage: ./build_and_push.sh IMAGE_NAME [TAG]        (TAG defaults to latest)
#
# The account comes from `aws sts get-caller-identity`; the region from AWS_REGION,
# AWS_DEFAULT_REGION, `aws configure get region`, or else us-west-2. The ECR repository
# IMAGE_NAME is created (with scan on push) when missing. The image is built by
# container/build-image.sh, the build the tests use. Progress goes to stderr; the full image
# URI is the last line, on stdout, so `uri=$(./build_and_push.sh NAME)` works.
#
# The slim image (our engine) is pushed as IMAGE_NAME:TAG; with IMAGE_VARIANT=full the full
# one (multi-model-server and Java as well) is pushed as IMAGE_NAME:TAG-full instead.
#
# Environment, for offline use and tests:
#   AWS_ENDPOINT_URL  passed to every aws call as --endpoint-url (e.g. a moto server)
#   ECR_REGISTRY      registry host to log in and push to instead of
#                     ACCOUNT.dkr.ecr.REGION.amazonaws.com (e.g. 127.0.0.1:5000)
set -euo pipefail

me=build_and_push
here=$(cd "$(dirname "$0")" && pwd)
default_region=us-west-2

fail() { echo "$me: $*" >&2; exit 1; }

# The last non-empty line of a command's output: the one that says why it failed.
reason() { grep -v '^[[:space:]]*$' "$1" | tail -n 1 || true; }

if [ $# -lt 1 ] || [ $# -gt 2 ] || [ -z "$1" ]; then
  echo "usage: $0 IMAGE_NAME [TAG]" >&2
  exit 1
fi
image=$1
tag=${2:-latest}

log=$(mktemp "${TMPDIR:-/tmp}/build_and_push.XXXXXX")
trap 'rm -f "$log"' EXIT

aws_cli() {
  if [ -n "${AWS_ENDPOINT_URL:-}" ]; then
    aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"
  else
    aws "$@"
  fi
}

# Check the tools first: a missing engine found after a long build wastes the build.
command -v aws >/dev/null 2>&1 || fail "the AWS CLI ('aws') is not on PATH"
command -v docker >/dev/null 2>&1 || fail "docker is not installed (no 'docker' on PATH)"
docker info >"$log" 2>&1 || fail "the Docker engine is not running or not reachable: $(reason "$log")"

region=${AWS_REGION:-${AWS_DEFAULT_REGION:-}}
if [ -z "$region" ]; then
  # `configure get` exits 1 when the key is unset: that is the case the default is for.
  region=$(aws configure get region 2>/dev/null || true)
fi
region=${region:-$default_region}

account=$(aws_cli sts get-caller-identity --region "$region" --query Account --output text 2>"$log") ||
  fail "cannot find the AWS account (aws sts get-caller-identity): $(reason "$log")"

suffix=amazonaws.com
case $region in cn-*) suffix=amazonaws.com.cn ;; esac
registry=${ECR_REGISTRY:-$account.dkr.ecr.$region.$suffix}
case ${IMAGE_VARIANT:-slim} in
  slim) pushed=$tag ;;
  full) pushed=$tag-full ;;
  *) fail "IMAGE_VARIANT must be slim or full, not '$IMAGE_VARIANT'" ;;
esac
fullname=$registry/$image:$pushed

echo "$me: account $account, region $region, image $fullname" >&2

if ! aws_cli ecr describe-repositories --region "$region" --repository-names "$image" >/dev/null 2>"$log"; then
  # Only a missing repository is ours to create; any other error (access denied,
  # bad endpoint) would fail the create too, with a less telling message.
  grep -q RepositoryNotFoundException "$log" || fail "cannot describe ECR repository $image: $(reason "$log")"
  echo "$me: creating ECR repository $image" >&2
  aws_cli ecr create-repository --region "$region" --repository-name "$image" \
    --image-scanning-configuration scanOnPush=true >/dev/null 2>"$log" ||
    fail "cannot create ECR repository $image: $(reason "$log")"
fi

# The password goes to docker on stdin, from a builtin: it never appears in a process list.
password=$(aws_cli ecr get-login-password --region "$region" 2>"$log") ||
  fail "cannot get an ECR login password: $(reason "$log")"
printf '%s' "$password" | docker login --username AWS --password-stdin "$registry" >"$log" 2>&1 ||
  fail "docker login to $registry failed: $(reason "$log")"
unset password

echo "$me: building $image:$tag with container/build-image.sh" >&2
"$here/container/build-image.sh" "$image:$tag" >&2 ||
  fail "build failed: container/build-image.sh $image:$tag (its output is above)"

docker tag "$image:$pushed" "$fullname" >"$log" 2>&1 || fail "docker tag failed: $(reason "$log")"

echo "$me: pushing $fullname" >&2
docker push "$fullname" >"$log" 2>&1 || fail "push to $registry failed: $(reason "$log")"
# docker push ends with "TAG: digest: sha256:... size: N"; keep it for the record.
reason "$log" >&2

echo "$fullname"

#!/usr/bin/env bash
# The AWS side of .github/workflows/deploy.yml, for one environment (the variables of its
# GitHub environment, from its infra/aws.yml stack, and the credentials of its deploy role):
#
#   infra/deploy.sh find COMMIT           the commit's image in ECR, as key=value lines
#                                         (repository, digest, image; digest and image
#                                         empty when there is none)
#   infra/deploy.sh tag DIGEST RELEASE    add the release's tag to that image
#   infra/deploy.sh deploy IMAGE          register the AWS Batch job definition's next
#                                         revision with IMAGE (repository@digest)
#
# Each step can be run again: a re-run finds what the first run did and goes on from there.
# Reads ECR_REPOSITORY and BATCH_JOB_DEFINITION; needs the AWS CLI, jq.
set -euo pipefail

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

find_image() {
  local commit="$1" uri digest
  uri="$(aws ecr describe-repositories --repository-names "$ECR_REPOSITORY" \
    --query 'repositories[0].repositoryUri' --output text)"
  if digest="$(aws ecr describe-images --repository-name "$ECR_REPOSITORY" --image-ids imageTag="$commit" \
      --query 'imageDetails[0].imageDigest' --output text 2> "$work/error")"; then
    echo "repository=$uri"
    echo "digest=$digest"
    echo "image=$uri@$digest"
  elif grep -q ImageNotFoundException "$work/error"; then
    echo "repository=$uri"
    echo "digest="
    echo "image="
  else
    cat "$work/error" >&2
    return 1
  fi
}

# Immutable tags: a tag names one image for good, and a second tag is one more name for it.
tag_image() {
  local digest="$1" release="$2"
  aws ecr batch-get-image --repository-name "$ECR_REPOSITORY" --image-ids imageDigest="$digest" \
    --output json > "$work/image.json"
  if aws ecr put-image --repository-name "$ECR_REPOSITORY" --image-tag "$release" \
      --image-manifest "$(jq -r '.images[0].imageManifest' "$work/image.json")" \
      --image-manifest-media-type "$(jq -r '.images[0].imageManifestMediaType' "$work/image.json")" \
      --query image.imageId.imageTag --output text > /dev/null 2> "$work/error"; then
    echo "Tagged $digest as $release."
  elif grep -q ImageAlreadyExistsException "$work/error"; then
    echo "$release names $digest already."
  else
    cat "$work/error" >&2
    return 1
  fi
}

# The newest revision of the job definition with the new image, unless it has that image
# already. Tags whose keys start with "aws:" (those CloudFormation sets) are reserved:
# registering a revision that carries them fails, so they are left out.
deploy() {
  local image="$1"
  aws batch describe-job-definitions --job-definition-name "$BATCH_JOB_DEFINITION" --status ACTIVE \
    --query 'sort_by(jobDefinitions, &revision)[-1]' --output json > "$work/current.json"
  if [ "$(jq -r type "$work/current.json")" != object ]; then
    echo "::error::No active job definition '$BATCH_JOB_DEFINITION': deploy infra/aws.yml first (README.md, CI and deployment)."
    return 1
  fi
  if [ "$(jq -r .containerProperties.image "$work/current.json")" = "$image" ]; then
    echo "The newest revision runs $image already: $(jq -r .jobDefinitionArn "$work/current.json")"
    return
  fi
  jq --arg image "$image" '{jobDefinitionName, type, parameters, schedulingPriority,
    retryStrategy, propagateTags, timeout, platformCapabilities,
    tags: ((.tags // {}) | with_entries(select(.key | startswith("aws:") | not))),
    containerProperties: (.containerProperties | .image = $image)}
    | with_entries(select(.value != null and .value != {}))' "$work/current.json" > "$work/next.json"
  aws batch register-job-definition --cli-input-json "file://$work/next.json" \
    --query jobDefinitionArn --output text
}

case "${1:-}" in
  find) find_image "$2" ;;
  tag) tag_image "$2" "$3" ;;
  deploy) deploy "$2" ;;
  *)
    echo "usage: infra/deploy.sh find COMMIT | tag DIGEST RELEASE | deploy IMAGE" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# The AWS side of .github/workflows/deploy.yml, for one environment (the variables of its
# GitHub environment, from its infra/aws.yml stack, and the credentials of its deploy role):
#
#   infra/deploy.sh find COMMIT           the commit's image in ECR, as key=value lines
#                                         (repository, digest, image; digest and image
#                                         empty when there is none)
#   infra/deploy.sh tag DIGEST RELEASE    add the release's tag to that image
#   infra/deploy.sh deploy IMAGE          register the task definition's next revision with IMAGE
#                                         (repository@digest), roll the ECS service over,
#                                         wait until it is stable and check /health
#
# Each step can be run again: a re-run finds what the first run did and goes on from there.
# Reads ECR_REPOSITORY, ECS_CLUSTER, ECS_SERVICE, ECS_TASK_DEFINITION, ECS_CONTAINER_NAME
# and SERVICE_URL; needs the AWS CLI, jq and curl.
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

# The newest revision of the family with the new image, unless it has that image already.
# Tags whose keys start with "aws:" (those CloudFormation sets) are reserved: registering a
# revision that carries them fails, so they are left out.
register_revision() {
  local image="$1"
  aws ecs describe-task-definition --task-definition "$ECS_TASK_DEFINITION" --include TAGS \
    --output json > "$work/current.json"
  if [ "$(jq -r --arg container "$ECS_CONTAINER_NAME" \
      '.taskDefinition.containerDefinitions[] | select(.name == $container) | .image' \
      "$work/current.json")" = "$image" ]; then
    echo "The newest revision runs $image already." >&2
    jq -r .taskDefinition.taskDefinitionArn "$work/current.json"
    return
  fi
  jq --arg container "$ECS_CONTAINER_NAME" --arg image "$image" '
    .tags as $tags | .taskDefinition
    | {family, taskRoleArn, executionRoleArn, networkMode, containerDefinitions, volumes,
       placementConstraints, requiresCompatibilities, cpu, memory, pidMode, ipcMode,
       proxyConfiguration, inferenceAccelerators, ephemeralStorage, runtimePlatform}
    | .containerDefinitions |= map(if .name == $container then .image = $image else . end)
    | .tags = [($tags // [])[] | select(.key | startswith("aws:") | not)]
    | with_entries(select(.value != null and .value != []))' \
    "$work/current.json" > "$work/next.json"
  aws ecs register-task-definition --cli-input-json "file://$work/next.json" \
    --query taskDefinition.taskDefinitionArn --output text
}

roll_over() {
  local revision="$1" attempt running
  aws ecs update-service --cluster "$ECS_CLUSTER" --service "$ECS_SERVICE" \
    --task-definition "$revision" --query service.serviceArn --output text
  # Each wait gives up after 10 minutes: 30 at most.
  for attempt in 1 2 3; do
    if aws ecs wait services-stable --cluster "$ECS_CLUSTER" --services "$ECS_SERVICE"; then
      break
    elif [ "$attempt" = 3 ]; then
      echo "::error::$ECS_SERVICE is not stable after 30 minutes: see its events in the ECS console and its logs in CloudWatch."
      return 1
    fi
  done
  # A deployment whose tasks fail is rolled back (the circuit breaker): the service is then
  # stable, but on the previous revision.
  running="$(aws ecs describe-services --cluster "$ECS_CLUSTER" --services "$ECS_SERVICE" \
    --query 'services[0].taskDefinition' --output text)"
  if [ "$running" != "$revision" ]; then
    echo "::error::$ECS_SERVICE runs $running, not $revision: the new tasks failed and the deployment was rolled back (see the service's events and the logs in CloudWatch)."
    return 1
  fi
}

# The tasks are healthy behind the load balancer, and /health answers through its URL
# (from inside the VPC only, when the load balancer is internal).
check_health() {
  local group healthy balancer scheme
  aws ecs describe-services --cluster "$ECS_CLUSTER" --services "$ECS_SERVICE" \
    --query 'services[0]' --output json > "$work/service.json"
  if [ "$(jq .desiredCount "$work/service.json")" = 0 ]; then
    echo "::notice::$ECS_SERVICE runs no task yet: start it with the image it has now (README.md, CI and deployment: step 1's commands, again)."
    return
  fi
  group="$(jq -r '.loadBalancers[0].targetGroupArn' "$work/service.json")"
  healthy="$(aws elbv2 describe-target-health --target-group-arn "$group" --output text \
    --query "length(TargetHealthDescriptions[?TargetHealth.State=='healthy'])")"
  if [ "$healthy" = 0 ]; then
    echo "::error::No healthy target behind the load balancer of $ECS_SERVICE."
    return 1
  fi
  balancer="$(aws elbv2 describe-target-groups --target-group-arns "$group" \
    --query 'TargetGroups[0].LoadBalancerArns[0]' --output text)"
  scheme="$(aws elbv2 describe-load-balancers --load-balancer-arns "$balancer" \
    --query 'LoadBalancers[0].Scheme' --output text)"
  if [ "$scheme" = internal ]; then
    echo "$healthy healthy targets; the load balancer is internal: $SERVICE_URL/health answers inside the VPC only."
    return
  fi
  curl --fail --silent --show-error --retry 5 --retry-all-errors --retry-delay 5 --max-time 10 \
    "$SERVICE_URL/health" > "$work/health.json"
  # In the workflow run's summary too.
  echo "$SERVICE_URL/health: $(cat "$work/health.json")" | tee -a "${GITHUB_STEP_SUMMARY:-/dev/null}"
}

deploy() {
  local revision
  revision="$(register_revision "$1")"
  echo "Revision: $revision"
  roll_over "$revision"
  check_health
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

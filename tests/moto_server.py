"""A moto server (a local AWS endpoint) for the AWS tests (tests/aws_stack.py), with fixes.

Run as `python tests/moto_server.py -H 127.0.0.1 -p PORT`. moto 5.2's CloudFormation has
defects and gaps on the paths the README's commands take; each is fixed here the way
AWS documents the behaviour (or moto's own `Stack.update` already does it), so that those
commands run as they do against AWS:

- ExecuteChangeSet leaves the stack without outputs: the stack's outputs are built when
  the empty REVIEW_IN_PROGRESS stack is created and never again. Here they are rebuilt
  from the executed template, as `Stack.update` does.
- An update that keeps a `List<...>` parameter's previous value (UsePreviousValue, which
  `aws cloudformation deploy` sends for every parameter it is not given) fails with a
  500 error: the previous value is handed back as a list where moto expects the comma
  separated string it splits. Here it is handed back as that string.
- A change set that changes nothing is refused with a ValidationError ("No updates are
  to be performed."), so `aws cloudformation deploy --no-fail-on-empty-changeset`
  fails. Here it is created FAILED, with AWS's reason, which the AWS CLI recognises.
- A create that fails (a resource cannot be created) answers with a 500 error and leaves
  the stack in REVIEW_IN_PROGRESS. Here the stack ends in CREATE_FAILED, as on AWS with
  rollback disabled, and `aws cloudformation deploy` reports the failure. moto still does
  not roll back: the resources created so far stay until the stack is deleted.
- Deleting a stack treats `DeletionPolicy: RetainExceptOnCreate` as Delete. Here it
  keeps the resource, unless the stack's first create failed (CREATE_FAILED), as AWS
  does.
- An update that touches a resource whose Condition was false (never created) fails
  with an AttributeError: moto updates the missing resource. Here it is created if its
  condition now holds, and skipped otherwise, as AWS does. An update that touches a
  resource whose type moto cannot update (a load balancer) loses it from the stack;
  here it stays as it was.
- A stack update that changes an ECS task definition registers the next revision with
  its container definitions' keys as written in the template (PascalCase), which moto
  then drops: the revision has no image, user or health check. Here the next revision
  is registered as a create registers the first (AWS replaces a task definition on
  every change).
- An ECR repository's EmptyOnDelete is ignored: deleting the stack fails while the
  repository holds images. Here the repository goes with its images, as on AWS.
- Deleting a stack leaves its AWS Batch compute environment, job queue and job
  definition behind (moto has no delete for them), so a stack of the same name cannot be
  created again. Here they go with the stack, as on AWS.
- An ECS service's LoadBalancers are ignored (a "TODO" in moto): here they reach the
  service, as `create_service` would take them.
- `!Ref AWS::NoValue` as an item of a list (`!If [Cond, item, !Ref AWS::NoValue]`)
  leaves a null item where AWS removes it. Here it is removed.

Nothing else is changed: resources moto's CloudFormation does not support (Glue,
Athena, IAM OIDC providers, S3 bucket policies) are still accepted and not created.
"""

from __future__ import annotations

import sys
from typing import Any

from moto.batch import models as batch_models
from moto.cloudformation import models, parsing, responses
from moto.cloudformation.exceptions import ValidationError
from moto.ecr import models as ecr_models
from moto.ecs import models as ecs_models
from moto.server import main

_execute_change_set = models.CloudFormationBackend.execute_change_set
_delete_stack = models.Stack.delete
_create_service = ecs_models.Service.create_from_cloudformation_json
_update_resource = parsing.parse_and_update_resource
_create_change_set = responses.CloudFormationResponse.create_change_set
_clean_json = parsing.clean_json
NO_CHANGES = (
    "The submitted information didn't contain changes. "
    "Submit different information to create a change set."
)


def clean_json(resource_json: Any, resources_map: Any) -> Any:
    """moto's own, without the items of a list that resolved to AWS::NoValue."""
    cleaned = _clean_json(resource_json, resources_map)
    if isinstance(resource_json, list) and isinstance(cleaned, list):
        return [item for item in cleaned if item is not None]
    return cleaned


def create_change_set(self: Any) -> Any:
    try:
        return _create_change_set(self)
    except ValidationError as error:
        if "No updates are to be performed" not in str(error.message):
            raise
    self._validate_different_update = lambda *args: None
    result = _create_change_set(self)
    change_set = self.cloudformation_backend.describe_change_set(self._get_param("ChangeSetName"))
    change_set.status = "FAILED"
    change_set.execution_status = "UNAVAILABLE"
    change_set.status_reason = NO_CHANGES
    return result


def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
    change_set = self.change_sets.get(change_set_name) or next(
        cs for cs in self.change_sets.values() if cs.change_set_name == change_set_name
    )
    stack = self.stacks[change_set.stack_id]
    try:
        _execute_change_set(self, change_set_name, stack_name)
    except Exception as error:
        if change_set.change_set_type != "CREATE":
            raise
        print(f"{stack.name}: CREATE_FAILED: {error!r}", file=sys.stderr)
        change_set.execution_status = "EXECUTE_FAILED"
        stack.status = "CREATE_FAILED"
        stack._add_stack_event("CREATE_FAILED", resource_status_reason=str(error))
        return
    stack._parse_template()
    stack.output_map = stack._create_output_map()


def stack_parameters(self: Any) -> dict[str, Any]:
    return {
        key: ",".join(map(str, value)) if isinstance(value, list) else value
        for key, value in self.resource_map.resolved_parameters.items()
    }


def delete_stack(self: Any) -> None:
    policy = "Delete" if self.status == "CREATE_FAILED" else "Retain"
    for resource in self.resource_map._resource_json_map.values():
        if resource.get("DeletionPolicy") == "RetainExceptOnCreate":
            resource["DeletionPolicy"] = policy
    _delete_stack(self)


def update_resource(
    logical_id: str, resource_json: Any, resources_map: Any, account_id: str, region_name: str
) -> Any:
    original = resources_map[logical_id]
    if original is None:
        return parsing.parse_and_create_resource(
            logical_id, resource_json, resources_map, account_id, region_name
        )
    updated = _update_resource(logical_id, resource_json, resources_map, account_id, region_name)
    return original if updated is None else updated


def update_task_definition(
    cls: Any,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
) -> Any:
    ecs_models.ecs_backends[account_id][region_name].deregister_task_definition(
        original_resource.arn
    )
    return cls.create_from_cloudformation_json(
        new_resource_name, cloudformation_json, account_id, region_name
    )


_create_repository = ecr_models.Repository.create_from_cloudformation_json


def create_repository(
    cls: Any, resource_name: str, cloudformation_json: Any, *args: Any, **kwargs: Any
) -> Any:
    repository = _create_repository.__func__(  # type: ignore[attr-defined]
        cls, resource_name, cloudformation_json, *args, **kwargs
    )
    empty = str(cloudformation_json["Properties"].get("EmptyOnDelete", "false")).lower()
    repository.empty_on_delete = empty == "true"
    return repository


def delete_repository(self: Any, account_id: str, region_name: str) -> None:
    ecr_models.ecr_backends[account_id][region_name].delete_repository(
        self.name, force=getattr(self, "empty_on_delete", False)
    )


def delete_compute_environment(self: Any, account_id: str, region_name: str) -> None:
    batch_models.batch_backends[account_id][region_name].delete_compute_environment(self.name)


def delete_job_queue(self: Any, account_id: str, region_name: str) -> None:
    batch_models.batch_backends[account_id][region_name].delete_job_queue(self.name)


def delete_job_definition(self: Any, account_id: str, region_name: str) -> None:
    batch_models.batch_backends[account_id][region_name].deregister_job_definition(self.arn)


def create_service(
    cls: Any, resource_name: str, cloudformation_json: Any, *args: Any, **kwargs: Any
) -> Any:
    service = _create_service.__func__(cls, resource_name, cloudformation_json, *args, **kwargs)  # type: ignore[attr-defined]
    service.load_balancers = [
        {
            "containerName": item["ContainerName"],
            "containerPort": int(item["ContainerPort"]),
            "targetGroupArn": item["TargetGroupArn"],
        }
        for item in cloudformation_json["Properties"].get("LoadBalancers", [])
    ]
    return service


models.CloudFormationBackend.execute_change_set = execute_change_set  # type: ignore[method-assign]
responses.CloudFormationResponse.create_change_set = create_change_set  # type: ignore[method-assign]
models.Stack.stack_parameters = property(stack_parameters)  # type: ignore[assignment,method-assign]
models.Stack.delete = delete_stack
parsing.parse_and_update_resource = update_resource
parsing.clean_json = clean_json
ecr_models.Repository.create_from_cloudformation_json = classmethod(create_repository)  # type: ignore[assignment,method-assign]
ecr_models.Repository.delete = delete_repository  # type: ignore[method-assign]
batch_models.ComputeEnvironment.delete = delete_compute_environment  # type: ignore[attr-defined]
batch_models.JobQueue.delete = delete_job_queue  # type: ignore[attr-defined]
batch_models.JobDefinition.delete = delete_job_definition  # type: ignore[attr-defined]
ecs_models.TaskDefinition.update_from_cloudformation_json = classmethod(update_task_definition)  # type: ignore[assignment,method-assign]  # type: ignore[method-assign]
ecs_models.Service.create_from_cloudformation_json = classmethod(create_service)  # type: ignore[assignment,method-assign]

if __name__ == "__main__":
    main(sys.argv[1:])

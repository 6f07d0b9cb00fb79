"""A moto server (a local AWS endpoint) for the AWS tests (tests/aws_stack.py), with two CloudFormation fixes.

Run as `python tests/moto_server.py -H 127.0.0.1 -p PORT`. moto 5.2's CloudFormation has
two defects on the change-set path that `aws cloudformation deploy` takes; both are fixed
here the way moto's own `Stack.update` already does it, so that the README's commands run
as they do against AWS:

- ExecuteChangeSet leaves the stack without outputs: the stack's outputs are built when
  the empty REVIEW_IN_PROGRESS stack is created and never again. Here they are rebuilt
  from the executed template, as `Stack.update` does.
- An update that keeps a `List<...>` parameter's previous value (UsePreviousValue, which
  `aws cloudformation deploy` sends for every parameter it is not given) fails with a
  500 error: the previous value is handed back as a list where moto expects the comma
  separated string it splits. Here it is handed back as that string.

Nothing else is changed: resources moto's CloudFormation does not support (Glue,
Athena, IAM OIDC providers, S3 bucket policies) are still accepted and not created.
"""

from __future__ import annotations

import sys
from typing import Any

from moto.cloudformation import models
from moto.server import main

_execute_change_set = models.CloudFormationBackend.execute_change_set


def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
    _execute_change_set(self, change_set_name, stack_name)
    change_set = self.change_sets.get(change_set_name) or next(
        cs for cs in self.change_sets.values() if cs.change_set_name == change_set_name
    )
    stack = self.stacks[change_set.stack_id]
    stack._parse_template()
    stack.output_map = stack._create_output_map()


def stack_parameters(self: Any) -> dict[str, Any]:
    return {
        key: ",".join(map(str, value)) if isinstance(value, list) else value
        for key, value in self.resource_map.resolved_parameters.items()
    }


models.CloudFormationBackend.execute_change_set = execute_change_set  # type: ignore[method-assign]
models.Stack.stack_parameters = property(stack_parameters)  # type: ignore[assignment,method-assign]

if __name__ == "__main__":
    main(sys.argv[1:])

"""The commit Athena sees: the Glue tables' partitions point at the committed run.

infra/aws.yml's Glue tables ``scores`` and ``rejects`` have one partition per run date,
registered in the Glue Data Catalog (no partition projection: a projected partition's
location is a fixed prefix, which cannot switch from one run to the next at once). The
commit creates or updates each partition with the location of the run's folder: one
catalog write per table, whatever the size of the data; queries that start afterwards
read the new run, earlier ones finish on the old.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from demo_project.dataset import REJECTS, RESULTS, DatasetError

if TYPE_CHECKING:
    from demo_project.locations import Location

# Bounded waits: a missing network or endpoint fails the commit in seconds.
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 5})


def point_partitions(database: str, root: Location, manifest: dict[str, Any]) -> None:
    """Point both tables' partition of the manifest's run date at its run's folders."""
    if root.scheme != "s3":
        msg = f"the Glue catalog describes data in S3, not {root}: use an s3:// --output"
        raise DatasetError(msg)
    run_date = manifest["run_date"]
    folder = manifest["folder"]
    glue = boto3.client("glue", config=CLIENT_CONFIG)
    for table in (RESULTS, REJECTS):
        location = root.join(folder, table).uri + "/"
        try:
            described = glue.get_table(DatabaseName=database, Name=table)["Table"]
            partition = {
                "Values": [run_date],
                "StorageDescriptor": {**described["StorageDescriptor"], "Location": location},
                "Parameters": {"run_id": manifest["run_id"]},
            }
            try:
                glue.update_partition(
                    DatabaseName=database,
                    TableName=table,
                    PartitionValueList=[run_date],
                    PartitionInput=partition,
                )
            except glue.exceptions.EntityNotFoundException:
                try:
                    glue.create_partition(
                        DatabaseName=database, TableName=table, PartitionInput=partition
                    )
                except glue.exceptions.AlreadyExistsException:  # a commit of the same date
                    glue.update_partition(
                        DatabaseName=database,
                        TableName=table,
                        PartitionValueList=[run_date],
                        PartitionInput=partition,
                    )
        except (BotoCoreError, ClientError) as error:
            text = " ".join(str(error).split())
            msg = f"committed {run_date} to its manifest, but not to Glue table {database}.{table}: {text}; run the commit again"
            raise DatasetError(msg) from error

"""The Lambdas' code: the `lambdas/` folder, the IANA time zone data beside it, and this configuration's settings.

`zoneinfo` reads the system's zone files and, failing those, the `tzdata` package. AWS does not
promise zone files in the Lambda runtime (its Amazon Linux 2023 images ship none), and without
them every Glue-triggered claim would fail to turn the event time into a base date. So the pinned
`tzdata` package that synthesizes the stack is copied into the asset, next to the handlers. The
copy is done locally at synth: no Docker, no download.

The settings the Lambdas read (the task settings, the freshness check's) are written into the asset too, as
JSON files at its root, where the functions read them from LAMBDA_TASK_ROOT. They used to be environment
variables, but Lambda holds at most 4 KB of environment variables per function, all together, and the task
settings pass that at 3 datasets and 5 campaigns with quality gates (and grow with every one): CloudFormation
would refuse the deployment. In the code package they cost no call at run time, no IAM permission and no
extra service, and the only size limit is the package's own (250 MB unzipped). The asset is hashed after
bundling, so a configuration change is a code change: CloudFormation updates every function with it, and
a function never runs code of one deployment with settings of another. The alternatives are weaker: an SSM
parameter holds 4 KB (standard) or 8 KB (advanced tier, billed), an S3 object or AppConfig needs a call at cold
start, its own permissions and an error path of its own, and may change under a running deployment.
The environment keeps only what CloudFormation alone knows: the run table's name, the alert topic's ARN.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import jsii
import tzdata
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from refresh_common.environment import FRESHNESS_SETTINGS_FILE, SETTINGS_FILE

from .config import RefreshConfig
from .constants import LAMBDAS_DIR, METRIC_NAMESPACE

_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")


def settings_files(config: RefreshConfig) -> dict[str, dict[str, Any]]:
    """The settings files of the code asset, by file name: what each function reads of the configuration."""
    freshness = {
        "namespace": METRIC_NAMESPACE,
        "campaigns": [campaign.name for campaign in config.campaigns],
        "stale_after_days": config.stale_after_days,
    }
    return {SETTINGS_FILE: config.lambda_settings(), FRESHNESS_SETTINGS_FILE: freshness}


def bundle(output_dir: Path, settings: Mapping[str, Mapping[str, Any]]) -> None:
    """Write the asset's files: the handlers and their shared package, `tzdata`, then the settings files."""
    shutil.copytree(LAMBDAS_DIR, output_dir, ignore=_IGNORED, dirs_exist_ok=True)
    shutil.copytree(Path(tzdata.__file__).parent, output_dir / "tzdata", ignore=_IGNORED, dirs_exist_ok=True)
    for name, document in settings.items():
        (output_dir / name).write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")


@jsii.implements(ILocalBundling)
class _LocalCopy:
    def __init__(self, settings: Mapping[str, Mapping[str, Any]]) -> None:
        self._settings = settings

    def try_bundle(self, output_dir: str, options: Any) -> bool:
        bundle(Path(output_dir), self._settings)
        return True


def task_code(config: RefreshConfig) -> lambda_.Code:
    """One asset for every function of the stack: the handlers, their shared package and the settings files."""
    return lambda_.Code.from_asset(
        str(LAMBDAS_DIR),
        # Hashed after bundling, so a new tzdata pin or a new configuration deploys new code too.
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            # Never used: the local copy always succeeds, but CDK requires an image to fall back on.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.14"),
            local=cast(ILocalBundling, _LocalCopy(settings_files(config))),  # jsii.implements is invisible to mypy
        ),
    )

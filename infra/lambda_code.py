"""The task Lambdas' code: the `lambdas/` folder, with the IANA time zone data beside it.

`zoneinfo` reads the system's zone files and, failing those, the `tzdata` package. AWS does not
promise zone files in the Lambda runtime (its Amazon Linux 2023 images ship none), and without
them every Glue-triggered claim would fail to turn the event time into a base date. So the pinned
`tzdata` package that synthesizes the stack is copied into the asset, next to the handlers. The
copy is done locally at synth: no Docker, no download.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, cast

import jsii
import tzdata
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from .constants import LAMBDAS_DIR

_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")


def bundle(output_dir: Path) -> None:
    """Write the asset's files: the handlers and their shared package, then `tzdata`."""
    shutil.copytree(LAMBDAS_DIR, output_dir, ignore=_IGNORED, dirs_exist_ok=True)
    shutil.copytree(Path(tzdata.__file__).parent, output_dir / "tzdata", ignore=_IGNORED, dirs_exist_ok=True)


@jsii.implements(ILocalBundling)
class _LocalCopy:
    def try_bundle(self, output_dir: str, options: Any) -> bool:
        bundle(Path(output_dir))
        return True


def task_code() -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(LAMBDAS_DIR),
        # Hashed after bundling, so a new tzdata pin deploys new code too.
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            # Never used: the local copy always succeeds, but CDK requires an image to fall back on.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.14"),
            local=cast(ILocalBundling, _LocalCopy()),  # jsii.implements is invisible to type checkers
        ),
    )

"""The stack's file assets, published where the local deployment finds them: the engine's bootstrap bucket.

`cdk deploy` uploads every file asset of the cloud assembly to the bucket and key its asset manifest names
(`<stack>.assets.json`) before CloudFormation runs, and a function's `Code` property names that object; Lambda
unpacks it into the function's task root. The engine does the same with a folder for a bucket:
`synthesize` publishes each asset of its assembly here under its bucket and key, unpacked, and the deployment
finds a function's code by its `Code` property (deployment.py), so a function reads the settings files of
the very asset the template deploys.

Published assets are keyed by their hash, which CDK takes of their content: two syntheses of one code and
configuration publish the same one, once. The folder is shared by every process (each publishes with an
atomic rename) and lives in the system's temporary folder, like CDK's own assemblies.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Where published assets live, as s3://BUCKET/KEY -> ASSETS/BUCKET/KEY/ (a folder: the object, unpacked).
ASSETS = Path(tempfile.gettempdir()) / "personalize-refresh-assets"


class MissingAsset(RuntimeError):
    """A function's code names an asset that was never published: the template was not synthesized here."""


def publish(outdir: Path) -> list[Path]:
    """Publish every directory asset of the cloud assembly in `outdir`, as `cdk deploy` would upload it; the
    folders they are published at. The staged copies are moved out of `outdir`, which is left without them."""
    published: list[Path] = []
    for manifest in sorted(outdir.glob("*.assets.json")):
        for asset in json.loads(manifest.read_text(encoding="utf-8")).get("files", {}).values():
            source = asset["source"]
            if source.get("packaging") != "zip":
                continue  # the template itself: the deployment is given it directly
            staged, move = outdir / source["path"], True
            for destination in asset["destinations"].values():
                target = location(destination["bucketName"], destination["objectKey"])
                _place(staged, target, move=move)
                published.append(target)
                staged, move = target, False  # a further destination gets a copy of the first
    return published


def location(bucket: str, key: str) -> Path:
    return ASSETS / bucket / key


def code_root(code: Mapping[str, Any], *, function: str) -> Path:
    """The published folder of a function's `Code` (S3Bucket and S3Key, resolved), as Lambda's task root."""
    if "S3Bucket" not in code or "S3Key" not in code:
        raise MissingAsset(f"{function}: the local engine runs code from an S3 asset only, got Code {sorted(code)}")
    root = location(str(code["S3Bucket"]), str(code["S3Key"]))
    if not root.is_dir():
        raise MissingAsset(
            f"{function}: its code s3://{code['S3Bucket']}/{code['S3Key']} was never published: synthesize the "
            "stack with local_engine.synth.synthesize, which publishes its assets as `cdk deploy` does"
        )
    return root


def _place(staged: Path, target: Path, *, move: bool) -> None:
    if target.is_dir():
        return  # published already: same hash, same content
    target.parent.mkdir(parents=True, exist_ok=True)
    incoming = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        if move:
            shutil.move(str(staged), str(incoming / "asset"))
        else:
            shutil.copytree(staged, incoming / "asset")
        try:
            os.rename(incoming / "asset", target)
        except OSError:
            if not target.is_dir():  # not another process's publication of the same asset
                raise
    finally:
        shutil.rmtree(incoming, ignore_errors=True)

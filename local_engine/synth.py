"""Synthesizes the stack in-process exactly as `app.py` does, cdk-nag packs and service limits included, for
the local engine and the tests, and publishes its assets where the local deployment finds them (assets.py), as
`cdk deploy` uploads them before it deploys."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from infra.config import RefreshConfig

from . import assets


def synthesize(config: RefreshConfig) -> Any:
    """The stack's `aws_cdk.assertions.Template`; `.to_json()` gives the CloudFormation template."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.application import add_refresh_stack

    # An assembly folder of its own: its staged assets are published, then the folder is not needed.
    outdir = Path(tempfile.mkdtemp(prefix="cdk.out."))
    try:
        app = cdk.App(outdir=str(outdir))
        template = Template.from_stack(add_refresh_stack(app, config))
        assets.publish(outdir)
    finally:
        shutil.rmtree(outdir, ignore_errors=True)
    return template

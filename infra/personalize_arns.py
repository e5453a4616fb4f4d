"""The Personalize resources one deployment may touch, as IAM resource ARNs.

Job ARNs are patterns built from the deterministic name prefix, so a role can create
and describe this pipeline's jobs and nobody else's.
"""

from __future__ import annotations

from .config import RefreshConfig


class PersonalizeArns:
    def __init__(self, config: RefreshConfig) -> None:
        partition = config.datasets[0].dataset_arn.split(":")[1]
        self.partition = partition
        base = f"arn:{partition}:personalize:{config.region}:{config.account}"
        self.datasets = [d.dataset_arn for d in config.datasets]
        self.import_jobs = [
            f"{base}:dataset-import-job/{config.job_name_prefix}-{d.dataset_group}-{d.name}-*" for d in config.datasets
        ]
        self.solutions = [c.solution_arn for c in config.campaigns]
        self.solution_versions = [f"{c.solution_arn}/*" for c in config.campaigns]
        self.campaigns = [c.campaign_arn for c in config.campaigns]

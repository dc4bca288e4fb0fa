from stacks.weekly_batch.settings import BigQuerySettings, SlackSettings, WeeklyBatchSettings
from stacks.weekly_batch.stack import WeeklyBatchStack

__all__ = ["BigQuerySettings", "SlackSettings", "WeeklyBatchSettings", "WeeklyBatchStack"]

"""The five Slack moments of the weekly batch, with the seed's message fields (username, icon_emoji, text).

The state machine sends only the notice's kind and facts (dates, counts, error
name); the words live here, so a notice never carries a URL or a secret.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from weekly_batch.errors import InvalidNotice

KINDS = ("starting", "waiting", "succeeded", "failed", "gave_up")
_CAUSE_CHARS = 300

_SENDERS = {
    "starting": ("データ更新を確認した猫", ":cat:"),
    "waiting": ("データ更新を待つ猫", ":cat2:"),
    "succeeded": ("データ更新を終えた猫", ":smile_cat:"),
    "failed": ("処理の失敗を知らせる猫", ":crying_cat_face:"),
    "gave_up": ("データ更新を諦めた猫", ":scream_cat:"),
}


def _text(kind: str, n: Mapping[str, Any]) -> str:
    target = n.get("targetDate", "?")
    if kind == "starting":
        return (
            f"{target} のデータが見つかった（{n.get('rows', '?')} 件）ので、"
            f"{n.get('weekStart', '?')}〜{n.get('weekEnd', '?')} の1週間分の INSERT を開始します!"
        )
    if kind == "waiting":
        return (
            f"{target} のデータがまだ更新されていなかったようなので、{_wait(n.get('waitSeconds'))}待って再実行します!"
            f"（確認 {n.get('checks', '?')}/{n.get('maxChecks', '?')} 回目）"
        )
    if kind == "succeeded":
        return (
            f"{n.get('weekStart', '?')}〜{n.get('weekEnd', '?')} の1週間分のデータ更新が完了しました"
            f"（{n.get('rowsAffected', '?')} 行）。"
        )
    if kind == "gave_up":
        return (
            f"{target} のデータが {n.get('checks', '?')} 回確認しても更新されなかったので、"
            "今週のバッチを諦めます（DataNotReady）。"
        )
    cause = _readable_cause(n.get("cause"))
    cause = cause if len(cause) <= _CAUSE_CHARS else cause[:_CAUSE_CHARS] + "…"
    return f"{target} の週次バッチが失敗しました: {n.get('error', 'Unknown')}" + (f"\n> {cause}" if cause else "")


def _readable_cause(cause: Any) -> str:
    """A Lambda error's cause is its JSON report: show only the message (never the stack trace)."""
    text = str(cause or "")
    try:
        report = json.loads(text)
    except ValueError:
        return text
    return str(report.get("errorMessage", text)) if isinstance(report, dict) else text


def _wait(seconds: Any) -> str:
    try:
        value = int(seconds)
    except (TypeError, ValueError):
        return "しばらく"
    return f"{value // 60}分" if value >= 60 and value % 60 == 0 else f"{value}秒"


def build_message(notice: Any) -> dict[str, str]:
    """Slack webhook body for a notice event {"kind": ..., facts...}."""
    if not isinstance(notice, dict) or notice.get("kind") not in KINDS:
        kind = notice.get("kind") if isinstance(notice, dict) else None
        raise InvalidNotice(f"unknown notice kind {repr(kind)[:60]}; expected one of {', '.join(KINDS)}")
    username, icon = _SENDERS[notice["kind"]]
    return {"username": username, "icon_emoji": icon, "text": _text(notice["kind"], notice)}

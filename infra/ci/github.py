"""The few GitHub REST API calls the action makes: one pull-request comment, found by a hidden
marker and created or updated, with the job's token. Standard library only (urllib).

`GITHUB_API_URL` says where the API is (GitHub Enterprise, or a test's stand-in on 127.0.0.1)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

PER_PAGE = 100
MAX_PAGES = 50  # 5,000 comments: past that a pull request has other problems
TIMEOUT = 30


class GitHubError(Exception):
    """A request GitHub refused or did not answer, as one line saying what to check."""


@dataclass(frozen=True)
class GitHub:
    api_url: str
    repository: str  # owner/name
    token: str

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.api_url.rstrip('/')}{path}", data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28", "Content-Type": "application/json",
            "User-Agent": "infra-fleet-action"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 (an https API URL)
                text = response.read().decode()
        except urllib.error.HTTPError as exc:
            raise GitHubError(f"GitHub answered {exc.code} to {method} {path}: {_message(exc)}{_hint(exc.code)}") \
                from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GitHubError(f"cannot reach GitHub's API at {self.api_url}: {reason}") from None
        return json.loads(text) if text else None

    def comments(self, number: int) -> list[dict[str, Any]]:
        """Every comment of issue or pull request `number`, oldest first."""
        found: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            batch = self.request("GET", f"/repos/{self.repository}/issues/{number}/comments"
                                        f"?per_page={PER_PAGE}&page={page}") or []
            found.extend(batch)
            if len(batch) < PER_PAGE:
                break
        return found

    def upsert_comment(self, number: int, marker: str, body: str) -> tuple[str, str]:
        """Update the comment carrying `marker` (the first, if several), else create one; (what was
        done, the comment's URL). `body` must carry the marker, so the next run finds it."""
        for comment in self.comments(number):
            if marker in (comment.get("body") or ""):
                updated = self.request("PATCH", f"/repos/{self.repository}/issues/comments/{comment['id']}",
                                       {"body": body})
                return "updated", (updated or {}).get("html_url", "")
        created = self.request("POST", f"/repos/{self.repository}/issues/{number}/comments", {"body": body})
        return "created", (created or {}).get("html_url", "")


def _message(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read().decode()).get("message") or exc.reason)
    except (ValueError, AttributeError, OSError):
        return str(exc.reason)


def _hint(status: int) -> str:
    if status in (401, 403, 404):
        return ("; give the job `permissions: pull-requests: write` (and `issues: write`), or the action a token "
                "that may comment (input github-token)")
    return ""

"""The CLI's side of the admin API: where the gateway is, and HTTP errors turned into
messages a person can act on."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import httpx
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from broker.cli.errors import CliError
from broker.errors import Problem

DEFAULT_URL = "http://127.0.0.1:8000"


class CliSettings(BaseSettings):
    """Read once from the environment: BROKER_ADMIN_URL, BROKER_ADMIN_TOKEN, BROKER_LOGIN_FILE."""

    model_config = SettingsConfigDict(env_prefix="BROKER_", extra="ignore")

    admin_url: str = DEFAULT_URL
    admin_token: SecretStr | None = None
    login_file: Path | None = None
    """Where `broker login` keeps its tokens (default ~/.config/tool-broker/login.json)."""


class ApiError(CliError):
    """The gateway answered with an error."""

    def __init__(self, status: int, code: str, message: str, problems: list[Problem]) -> None:
        super().__init__(message, problems=problems)
        self.status = status
        self.code = code

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        try:
            error = response.json()["error"]
            problems = [_problem(p) for p in error.get("problems", [])]
            return cls(response.status_code, str(error["code"]), str(error["message"]), problems)
        except (ValueError, KeyError, TypeError):
            text = response.text.strip()[:200] or response.reason_phrase
            return cls(
                response.status_code, f"http_{response.status_code}", f"the gateway answered {text}", []
            )


def _problem(raw: dict[str, Any]) -> Problem:
    loc = tuple(part if isinstance(part, int) else str(part) for part in raw.get("loc", []))
    return Problem(loc, str(raw.get("message", "")), raw.get("line"), raw.get("column"))


class AdminClient:
    """A thin httpx client for /admin; every failure becomes a CliError."""

    def __init__(self, url: str, token: str | None, *, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self._has_token = bool(token)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.request(
            "POST", path, json=body, params={k: v for k, v in params.items() if v is not None}
        )

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.ConnectError:
            raise CliError(f"cannot reach the gateway at {self.url}: is `broker serve` running?") from None
        except httpx.TimeoutException:
            raise CliError(f"the gateway at {self.url} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise CliError(f"the request to {self.url} failed: {exc}") from None
        if response.is_error:
            error = ApiError.from_response(response)
            if response.status_code == 401 and not self._has_token:
                error.message += " (set BROKER_ADMIN_TOKEN, pass --token, or `broker login`)"
            raise error
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise CliError(f"the gateway at {self.url} answered with something other than JSON") from None

"""What moto works out again and again for each request, worked out once: the same answers for less CPU
(and its log keeps the failed requests only).

The sandbox's moto answers every request of an apply on the same cores as infra (an apply of
10,000 groups: about 40,000 requests), and most of its CPU is not in what a request does but in
taking it apart: each is reckoned here once a request, or once a server.

- The names of moto's own service modules (it lists its package directory, a stat per entry, twice
  a request) and the action methods of a response class (inspect.getmembers of the class).
- The operation a request is for: moto matches the request against the service's routes again
  each time it asks (four or five times a request); here once, for that request.
- A Query API request's parameters: for each member of the operation's input, moto asks whether
  any parameter name starts with the member's prefix, walking every name of the request (and
  werkzeug's combined view of the query string and form builds a new set of the names at each
  walk): the time grew with the product of the members and the parameters. Here the parameters
  are read once into a dict, and a prefix is found in their sorted names by bisection.
- The attribute names to try for each member of an answer: moto asks six alias rules, for each
  member of each object it answers with (an AMI has about seventy), which names the member's value
  may be under; the names depend on the member, its shape and the object's class alone, so they
  are asked once for each, and so is the transformer (of about twenty) that a member's path
  calls for. DescribeImages of seven AMIs took about 8 ms of moto's CPU.
- The server's log (moto.log) keeps the requests that failed (4xx, 5xx) and what went wrong, not
  a line for each request that succeeded: every Query API request is `"POST / HTTP/1.1" 200`, so
  those lines told nothing, and writing them was a twentieth of moto's CPU in an apply.
"""

from __future__ import annotations

import bisect
import functools
from typing import Any


def quick_requests() -> None:
    _quick_dispatch()
    _route_once()
    _query_parameters_once()
    _attribute_names_once()
    _log_failures_only()


def _quick_dispatch() -> None:
    import moto.backends
    import moto.core.responses

    modules = tuple(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: modules
    moto.core.responses.method_names_from_class = functools.cache(moto.core.responses.method_names_from_class)


def _route_once() -> None:
    """BaseResponse._get_action_from_request, remembered for the request it was asked of (a response
    object serves one request; its `uri_match` is set as the first match set it)."""
    from moto.core.responses import BaseResponse

    route = BaseResponse._get_action_from_request

    def routed(self: Any, request: Any) -> str:
        known = self.__dict__.get("_sandbox_route")
        if known is not None and known[0] is request:
            if known[2] is not None:
                self.uri_match = known[2]
            return known[1]
        action = route(self, request)
        self.__dict__["_sandbox_route"] = (request, action, self.__dict__.get("uri_match") if action else None)
        return action

    BaseResponse._get_action_from_request = routed  # type: ignore[method-assign]


class _Parameters(dict):
    """A Query API request's parameters (the first value of each name, as werkzeug's `get` answers)
    and their names in order, to find a prefix among them by bisection."""

    def __init__(self, values: Any) -> None:
        super().__init__((name, values.get(name)) for name in values)
        self.names = sorted(self)

    def any_starts_with(self, prefix: str) -> bool:
        at = bisect.bisect_left(self.names, prefix)
        return at < len(self.names) and self.names[at].startswith(prefix)


def _query_parameters_once() -> None:
    from moto.core.parse import QueryParser

    do_parse = QueryParser._do_parse
    gonna_recurse = QueryParser._gonna_recurse

    def parse_once(self: Any, request_dict: Any, shape: Any) -> Any:
        return do_parse(self, {**request_dict, "values": _Parameters(request_dict["values"])}, shape)

    def nothing_under(self: Any, query_params: Any, prefix: str) -> bool:
        if prefix and isinstance(query_params, _Parameters):
            return not query_params.any_starts_with(prefix)
        return gonna_recurse(self, query_params, prefix)

    QueryParser._do_parse = parse_once  # type: ignore[method-assign]
    QueryParser._gonna_recurse = nothing_under  # type: ignore[method-assign]


def _attribute_names_once() -> None:
    """AttributePicker.__call__ with the names to try (get_possible_keys) remembered per picker
    class and alias rules, object class, member name and member shape (shapes are the service
    model's own, made once: moto caches its models)."""
    from moto.core.serialize import MISSING, AttributePicker
    from moto.core.utils import get_value

    names: dict[tuple, tuple[str, ...]] = {}

    def pick(self: Any, context: Any) -> Any:
        obj, shape = context.obj, context.shape
        known = (type(self), tuple(self.alias_providers), type(obj), context.key, shape,
                 getattr(shape, "parent", None))
        possible = names.get(known)
        if possible is None:
            possible = names[known] = tuple(self.get_possible_keys(context))
        for possible_key in possible:
            value = get_value(obj, possible_key, MISSING)
            if value is not MISSING:
                break
        else:
            value = None
        transforms = self.response_transformers
        if transforms:
            transform = _transform_of(transforms, f"{context.key_path}.{context.key}")
            if transform is not None:
                value = transform(value)
        return value

    AttributePicker.__call__ = pick  # type: ignore[method-assign]


_transforms: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
_UNKNOWN = object()


def _transform_of(transforms: dict[str, Any], key_path: str) -> Any:
    """The first of a response class's transformers (RESPONSE_KEY_PATH_TO_TRANSFORMER, a class
    constant) whose path `key_path` ends with, or None: asked once per path (moto asked each of
    EC2's twenty for every member of every object it answered with)."""
    known = _transforms.get(id(transforms))
    if known is None or known[0] is not transforms:
        known = _transforms[id(transforms)] = (transforms, {})
    chosen = known[1].get(key_path, _UNKNOWN)
    if chosen is _UNKNOWN:
        chosen = known[1][key_path] = next(
            (transform for path, transform in transforms.items() if key_path.endswith(path)), None)
    return chosen


def _log_failures_only() -> None:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    log_request = MotoRequestHandler.log_request

    def log_failure(self: Any, code: int | str = "-", size: int | str = "-") -> None:
        if str(code)[:1] not in ("1", "2", "3"):
            log_request(self, code, size)

    MotoRequestHandler.log_request = log_failure  # type: ignore[method-assign]

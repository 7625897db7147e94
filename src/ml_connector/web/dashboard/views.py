"""Dashboard routes and handlers. See the package docstring for what each page shows."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ml_connector.errors import ConnectorError
from ml_connector.flows.registry import FLOWS
from ml_connector.matching.model import Entity
from ml_connector.runtime.context import AppContext
from ml_connector.runtime.leases import LeaseBusy
from ml_connector.sandbox.credentials import DASHBOARD_PASSWORD
from ml_connector.secrets import Secret
from ml_connector.store import Store
from ml_connector.store.records import AttentionItem
from ml_connector.store.repos.matches import ACCEPTED, PROPOSED, REJECTED, MatchProposal
from ml_connector.store.states import AttentionState, AuditAction
from ml_connector.web.dashboard import queries
from ml_connector.web.dashboard.chart import stacked_bars
from ml_connector.web.dashboard.session import (
    LOGIN_COOKIE,
    LOGIN_FORM_SECONDS,
    PASSWORD_SECRET,
    SESSION_COOKIE,
    SESSION_KEY_SECRET,
    LoginThrottle,
    SessionSigner,
    SessionUser,
    new_token,
    same,
)

if TYPE_CHECKING:
    from ml_connector.runtime.clients import ConnectionClients

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]
#: opens a connection's two clients (``runtime.clients.open_clients``; tests pass in-process ones)
ClientOpener = Callable[[AppContext, Store, str], Awaitable["ConnectionClients"]]
#: proposals per page of the review list
MATCH_PAGE = 50
MATCH_STATES = (PROPOSED, ACCEPTED, REJECTED)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True, kw_only=True)
class ScheduledRun:
    """What the runner in this process knows of a job: when it runs next, how the last run went."""

    connection: str
    flow: str
    next_run: datetime | None
    last_run: str | None


def _store_flow(name: str) -> str:
    return name.replace("-", "_")


def _parse_dt(value: str | None, field_name: str) -> datetime | None:
    """A date or an aware datetime from a form; a date means midnight UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{field_name}: {value!r} is not a date (YYYY-MM-DD) or ISO datetime"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


@dataclass(kw_only=True)
class Dashboard:
    app_ctx: AppContext
    store: Store
    #: the in-process runner's view of its schedule, when there is one (``run``, not ``web``)
    schedule: Callable[[], list[ScheduledRun]] | None = None
    #: how the review page opens a connection's clients to link an accepted proposal (None: the
    #: production ``open_clients``)
    clients: ClientOpener | None = None
    _signer: SessionSigner | None = None
    _throttle: LoginThrottle | None = None
    _signer_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _env: Environment = field(
        default_factory=lambda: Environment(
            loader=PackageLoader("ml_connector.web", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )
    )

    # ---------------------------------------------------------------- plumbing

    @property
    def settings(self) -> Any:
        return self.app_ctx.config.settings.web

    @property
    def clock(self) -> Any:
        return self.app_ctx.clock

    @property
    def throttle(self) -> LoginThrottle:
        if self._throttle is None:
            self._throttle = LoginThrottle(self.clock, self.settings.login_attempts)
        return self._throttle

    async def signer(self) -> SessionSigner:
        """The session signer, its key read from (or first created in) the store."""
        async with self._signer_lock:
            if self._signer is not None:
                return self._signer
            cipher = self.app_ctx.cipher()
            async with self.store.transaction() as tx:
                # the first web process to start creates it; the others read that one
                await tx.secrets.add(cipher, SESSION_KEY_SECRET, Secret(new_token()))
            async with self.store.transaction() as tx:
                key = await tx.secrets.get(cipher, SESSION_KEY_SECRET)
            assert key is not None
            self._signer = SessionSigner(
                key=key.reveal(),
                clock=self.clock,
                session_seconds=int(self.settings.session_hours * 3600),
            )
        return self._signer

    def render(self, name: str, request: Request, status: int = 200, **context: Any) -> Response:
        template = self._env.get_template(name)
        html = template.render(request=request, now=self.clock.now(), **context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def _secure(self, request: Request) -> bool:
        mode = self.settings.secure_cookies
        return mode == "always" or (mode == "auto" and request.url.scheme == "https")

    async def _password(self) -> str | None:
        async with self.store.transaction() as tx:
            secret = await tx.secrets.get(self.app_ctx.cipher(), PASSWORD_SECRET)
        return None if secret is None else secret.reveal()

    async def user(self, request: Request) -> SessionUser | None:
        signer = await self.signer()
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        # read at every request, so `secrets set dashboard.password` ends older sessions at once
        return signer.load_session(cookie, await self._password())

    def protected(self, handler: Callable[[Request, SessionUser], Awaitable[Response]]) -> Handler:
        """Pages need a session (else a redirect to the login page); POSTs need its CSRF token."""

        async def wrapper(request: Request) -> Response:
            user = await self.user(request)
            if user is None:
                if request.method != "GET":
                    return self.render("error.html", request, 401, message="Please log in again.")
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
            if request.method == "POST":
                form = await request.form()
                token = form.get("csrf")
                if not same(token if isinstance(token, str) else None, user.csrf):
                    log.warning("dashboard: POST %s refused (CSRF token)", request.url.path)
                    return self.render(
                        "error.html",
                        request,
                        403,
                        user=user,
                        message="The form was stale or not sent by this dashboard; nothing was done.",
                    )
            try:
                return await handler(request, user)
            except Exception:  # a bug: logged with its traceback, the page says only that
                log.exception("dashboard: %s %s failed", request.method, request.url.path)
                return self.render(
                    "error.html",
                    request,
                    500,
                    user=user,
                    message="Something went wrong; the details are in the connector's log.",
                )

        return wrapper

    def routes(self) -> list[Route]:
        p = self.protected
        return [
            Route("/", p(self.overview), methods=["GET"]),
            Route("/login", self.login_form, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", p(self.logout), methods=["POST"]),
            Route("/dashboard.css", self.css, methods=["GET"]),
            Route("/attention", p(self.attention_list), methods=["GET"]),
            Route("/attention/{item_id:int}", p(self.attention_detail), methods=["GET"]),
            Route("/attention/{item_id:int}/replay", p(self.attention_replay), methods=["POST"]),
            Route("/attention/{item_id:int}/ignore", p(self.attention_ignore), methods=["POST"]),
            Route("/attention/{item_id:int}/resolve", p(self.attention_resolve), methods=["POST"]),
            Route("/audit", p(self.audit_search), methods=["GET"]),
            Route("/audit/{audit_id:int}", p(self.audit_entry), methods=["GET"]),
            Route("/history", p(self.history), methods=["GET"]),
            Route("/reconcile", p(self.reconcile_page), methods=["GET"]),
            Route("/reconcile.csv", p(self.reconcile_csv), methods=["GET"]),
            Route("/matches", p(self.matches_list), methods=["GET"]),
            Route("/matches/{proposal_id:int}", p(self.match_detail), methods=["GET"]),
            Route("/matches/{proposal_id:int}/accept", p(self.match_accept), methods=["POST"]),
            Route("/matches/{proposal_id:int}/reject", p(self.match_reject), methods=["POST"]),
        ]

    # ---------------------------------------------------------------- login

    async def css(self, request: Request) -> Response:
        assert self._env.loader is not None
        source, _, _ = self._env.loader.get_source(self._env, "dashboard.css")
        return Response(source, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    def _login_page(
        self, request: Request, status: int = 200, error: str | None = None, next_url: str = "/"
    ) -> Response:
        token = new_token()
        response = self.render(
            "login.html", request, status, csrf=token, error=error, next_url=_safe_next(next_url)
        )
        assert self._signer is not None
        response.set_cookie(
            LOGIN_COOKIE,
            self._signer.dump_login(token),
            max_age=LOGIN_FORM_SECONDS,
            httponly=True,
            samesite="strict",
            secure=self._secure(request),
        )
        return response

    async def login_form(self, request: Request) -> Response:
        await self.signer()
        return self._login_page(request, next_url=request.query_params.get("next", "/"))

    async def login(self, request: Request) -> Response:
        signer = await self.signer()
        client = request.client.host if request.client else "unknown"
        form = await request.form()
        name = str(form.get("user", "")).strip()[:60]
        password = str(form.get("password", ""))
        next_url = _safe_next(str(form.get("next", "/")))
        expected = signer.load_login(request.cookies.get(LOGIN_COOKIE))
        if not same(str(form.get("csrf", "")), expected):
            return self._login_page(
                request, 403, "The login form expired; please try again.", next_url
            )
        if self.throttle.blocked(client):
            log.warning("dashboard: login refused for %s (too many failures)", client)
            return self._login_page(
                request, 429, "Too many failed logins; wait 15 minutes.", next_url
            )
        current = await self._password()
        if current is None:
            return self._login_page(
                request,
                503,
                "No dashboard password is set: run `ml-connector secrets set dashboard.password`.",
                next_url,
            )
        if same(current, DASHBOARD_PASSWORD) and not self._sandbox_only():
            log.warning("dashboard: login refused, dashboard.password is still the sandbox's")
            return self._login_page(
                request,
                503,
                "The dashboard still has the sandbox password and a connection points at a real "
                "system: run `ml-connector secrets set dashboard.password` first.",
                next_url,
            )
        if not name or not same(password, current):
            self.throttle.failed(client)
            log.warning("dashboard: failed login from %s", client)
            return self._login_page(request, 401, "Wrong name or password.", next_url)
        self.throttle.succeeded(client)
        log.info("dashboard: %s logged in from %s", name, client)
        response = RedirectResponse(next_url, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            signer.dump_session(SessionUser(name=name, csrf=new_token()), current),
            max_age=signer.session_seconds,
            httponly=True,
            samesite="strict",
            secure=self._secure(request),
        )
        response.delete_cookie(LOGIN_COOKIE)
        return response

    def _sandbox_only(self) -> bool:
        """Every connection points at loopback (the sandbox): the documented password may stay."""
        for conn in self.app_ctx.config.settings.connections.values():
            urls = (str(conn.fusion.base_url), str(conn.servicetitan.resolved_api_base_url))
            if any(urlsplit(url).hostname not in LOOPBACK for url in urls):
                return False
        return True

    async def logout(self, request: Request, user: SessionUser) -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    # ---------------------------------------------------------------- overview

    async def overview(self, request: Request, user: SessionUser) -> Response:
        now = self.clock.now()
        pairs = [
            (name, _store_flow(flow))
            for name in self.app_ctx.config.settings.connections
            for flow in FLOWS
        ]
        async with self.store.transaction() as tx:
            activity = await queries.flow_activity(tx, pairs, now)
            per_day = await queries.records_per_day(tx, now)
            attention_counts = await tx.attention.counts()
        scheduled = {(s.connection, s.flow): s for s in (self.schedule() if self.schedule else [])}
        for row in activity:
            s = scheduled.get((row.connection, row.flow))
            if s is not None:
                row.next_run, row.last_run = s.next_run, s.last_run
        return self.render(
            "overview.html",
            request,
            user=user,
            activity=activity,
            chart=stacked_bars(per_day),
            attention_counts=attention_counts,
            has_schedule=self.schedule is not None,
        )

    # ---------------------------------------------------------------- attention

    async def attention_list(self, request: Request, user: SessionUser) -> Response:
        q = request.query_params
        state_text = q.get("state", AttentionState.OPEN.value)
        try:
            state = None if state_text == "all" else _enum(AttentionState, state_text)
        except ValueError as exc:
            return self.render("error.html", request, 400, user=user, message=str(exc))
        async with self.store.transaction() as tx:
            items = await tx.attention.list(
                connection=q.get("connection") or None,
                flow=q.get("flow") or None,
                reason=q.get("reason") or None,
                state=state,
                limit=500,
            )
            counts = await tx.attention.counts()
        return self.render(
            "attention_list.html",
            request,
            user=user,
            items=items,
            counts=counts,
            filters={k: q.get(k, "") for k in ("connection", "flow", "reason")},
            state=state_text,
            states=[s.value for s in AttentionState] + ["all"],
            connections=list(self.app_ctx.config.settings.connections),
            flows=[_store_flow(f) for f in FLOWS],
        )

    async def _item_page(
        self,
        request: Request,
        user: SessionUser,
        item: AttentionItem,
        *,
        status: int = 200,
        notice: str | None = None,
        error: str | None = None,
    ) -> Response:
        async with self.store.transaction() as tx:
            history = await tx.audit.history(item.connection, item.flow, item.source_id)
        return self.render(
            "attention_detail.html",
            request,
            status,
            user=user,
            item=item,
            history=history,
            source_json=json.dumps(item.source_record, indent=2, default=str, ensure_ascii=False)
            if item.source_record is not None
            else None,
            notice=notice,
            error=error,
        )

    async def _get_item(self, item_id: int) -> AttentionItem | None:
        async with self.store.transaction() as tx:
            return await tx.attention.get(item_id)

    async def attention_detail(self, request: Request, user: SessionUser) -> Response:
        item = await self._get_item(_row_id(request, "item_id"))
        if item is None:
            return self.render("error.html", request, 404, user=user, message="No such item.")
        notice = {
            "replayed": "Replayed: the record went through.",
            "ignored": "Ignored.",
            "resolved": "Resolved.",
        }.get(request.query_params.get("done", ""))
        return await self._item_page(request, user, item, notice=notice)

    def _who(self, user: SessionUser) -> str:
        return f"{user.name} (dashboard)"

    async def attention_replay(self, request: Request, user: SessionUser) -> Response:
        item_id = _row_id(request, "item_id")
        item = await self._get_item(item_id)
        if item is None:
            return self.render("error.html", request, 404, user=user, message="No such item.")
        if item.state not in (AttentionState.OPEN, AttentionState.REPLAYED):
            return await self._item_page(
                request, user, item, status=409, error=f"This item is {item.state.value}."
            )
        from ml_connector.runtime.replay import replay_items  # runs flows: loaded when used

        try:
            # the config is read again: the usual fix is a mapping edited while this runs
            fresh = self.app_ctx.reloaded()
            [ended] = await replay_items(fresh, [item_id], self._who(user))
        except LeaseBusy as exc:
            return await self._item_page(request, user, item, status=409, error=str(exc))
        except ConnectorError as exc:
            return await self._item_page(request, user, item, status=502, error=str(exc))
        log.info("dashboard: %s replayed attention item %s", user.name, item_id)
        if ended.state is AttentionState.RESOLVED:
            return RedirectResponse(f"/attention/{item_id}?done=replayed", status_code=303)
        return await self._item_page(
            request, user, ended, error=f"Replayed, but it still needs attention: {ended.message}"
        )

    async def attention_ignore(self, request: Request, user: SessionUser) -> Response:
        return await self._close(request, user, resolve=False)

    async def attention_resolve(self, request: Request, user: SessionUser) -> Response:
        return await self._close(request, user, resolve=True)

    async def _close(self, request: Request, user: SessionUser, *, resolve: bool) -> Response:
        """Ignore (no action needed) or resolve (fixed by hand); both need a comment."""
        item_id = _row_id(request, "item_id")
        comment = str((await request.form()).get("comment", "")).strip()[:2000]
        item = await self._get_item(item_id)
        if item is None:
            return self.render("error.html", request, 404, user=user, message="No such item.")
        if not comment:
            need = "what was done to resolve" if resolve else "why to ignore"
            return await self._item_page(
                request, user, item, status=400, error=f"Say {need} the item in the comment."
            )
        try:
            async with self.store.transaction() as tx:
                if resolve:
                    await tx.attention.resolve(item_id, by=self._who(user), comment=comment)
                else:
                    await tx.attention.ignore(item_id, by=self._who(user), comment=comment)
        except (LookupError, ValueError) as exc:
            return await self._item_page(request, user, item, status=409, error=str(exc))
        done = "resolved" if resolve else "ignored"
        log.info("dashboard: %s %s attention item %s", user.name, done, item_id)
        return RedirectResponse(f"/attention/{item_id}?done={done}", status_code=303)

    # ---------------------------------------------------------------- audit

    async def audit_search(self, request: Request, user: SessionUser) -> Response:
        q = request.query_params
        form = {
            k: q.get(k, "")
            for k in ("connection", "flow", "source_id", "target_id", "action", "since", "until")
        }
        error = None
        rows = []
        searched = any(form.values())
        if searched:
            try:
                since = _parse_dt(form["since"], "since")
                until = _parse_dt(form["until"], "until")
                action = _enum(AuditAction, form["action"]) if form["action"] else None
                async with self.store.transaction() as tx:
                    rows = await tx.audit.search(
                        connection=form["connection"].strip() or None,
                        flow=_store_flow(form["flow"].strip()) or None,
                        source_id=form["source_id"].strip() or None,
                        target_id=form["target_id"].strip() or None,
                        action=action,
                        since=since,
                        until=until,
                        limit=200,
                    )
            except ValueError as exc:
                error = str(exc)
        return self.render(
            "audit_search.html",
            request,
            400 if error else 200,
            user=user,
            form=form,
            rows=rows,
            searched=searched,
            error=error,
            actions=[a.value for a in AuditAction],
        )

    async def audit_entry(self, request: Request, user: SessionUser) -> Response:
        async with self.store.transaction() as tx:
            entry = await tx.audit.get(_row_id(request, "audit_id"))
        if entry is None:
            return self.render("error.html", request, 404, user=user, message="No such audit row.")
        return self.render(
            "audit_entry.html",
            request,
            user=user,
            entry=entry,
            pretty=lambda v: json.dumps(v, indent=2, default=str, ensure_ascii=False),
        )

    async def history(self, request: Request, user: SessionUser) -> Response:
        q = request.query_params
        connection, flow, source_id = (
            q.get(k, "").strip() for k in ("connection", "flow", "source_id")
        )
        if not (connection and flow and source_id):
            return self.render(
                "error.html",
                request,
                400,
                user=user,
                message="A record's history needs its connection, flow and source id.",
            )
        async with self.store.transaction() as tx:
            rows = await tx.audit.history(connection, _store_flow(flow), source_id)
            item = await tx.attention.find_active(connection, _store_flow(flow), source_id)
        return self.render(
            "history.html",
            request,
            user=user,
            rows=rows,
            item=item,
            connection=connection,
            flow=flow,
            source_id=source_id,
        )

    # ---------------------------------------------------------------- reconciliation

    def _reconcile_args(self, request: Request) -> tuple[str, str]:
        connections = list(self.app_ctx.config.settings.connections)
        connection = request.query_params.get("connection") or (
            connections[0] if connections else ""
        )
        default = (self.clock.now().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
        return connection, request.query_params.get("period", "").strip() or default

    async def reconcile_page(self, request: Request, user: SessionUser) -> Response:
        from ml_connector.reconcile import Period, reconcile  # reads both systems: loaded when used

        connection, period_text = self._reconcile_args(request)
        context: dict[str, Any] = {
            "user": user,
            "connection": connection,
            "period": period_text,
            "connections": list(self.app_ctx.config.settings.connections),
            "result": None,
            "error": None,
        }
        if request.query_params.get("run"):
            try:
                if connection not in self.app_ctx.config.settings.connections:
                    raise ValueError(f"no connection named {connection!r}")
                result = await reconcile(
                    self.app_ctx, self.store, connection, Period.parse(period_text)
                )
                context["result"] = result
            except (ConnectorError, ValueError) as exc:
                context["error"] = str(exc)
        status = 400 if context["error"] else 200
        return self.render("reconcile.html", request, status, **context)

    async def reconcile_csv(self, request: Request, user: SessionUser) -> Response:
        from ml_connector.reconcile import Period, as_csv, reconcile

        connection, period_text = self._reconcile_args(request)
        try:
            if connection not in self.app_ctx.config.settings.connections:
                raise ValueError(f"no connection named {connection!r}")
            period = Period.parse(period_text)
            result = await reconcile(self.app_ctx, self.store, connection, period)
        except (ConnectorError, ValueError) as exc:
            return self.render("error.html", request, 400, user=user, message=str(exc))
        filename = f"reconciliation-{connection}-{period.label}.csv"
        return Response(
            as_csv(result),
            media_type="text/csv; charset=utf-8",
            headers={
                **SECURITY_HEADERS,
                "Content-Disposition": f'attachment; filename="{filename}"',
            },
        )

    # ---------------------------------------------------------------- match review (issue 11)

    def _connections(self) -> list[str]:
        return list(self.app_ctx.config.settings.connections)

    async def matches_list(self, request: Request, user: SessionUser) -> Response:
        """Proposals of one connection by entity and state, ``MATCH_PAGE`` at a time (keyset on
        the id: ``after`` is the last id of the previous page)."""
        q = request.query_params
        connections = self._connections()
        connection = q.get("connection") or (connections[0] if connections else "")
        entity_text = q.get("entity", "all")
        state = q.get("state", PROPOSED)
        after_text = q.get("after", "0").strip() or "0"
        try:
            entity = None if entity_text == "all" else Entity.from_label(entity_text)
            if state not in (*MATCH_STATES, "all"):
                raise ValueError(f"{state!r} is not one of {', '.join(MATCH_STATES)} or all")
            if not after_text.isdigit() or int(after_text) >= 2**63:
                raise ValueError(f"after: {after_text!r} is not a proposal id")
        except ValueError as exc:
            return self.render("error.html", request, 400, user=user, message=str(exc))
        after = int(after_text)
        async with self.store.transaction() as tx:
            found = await tx.matches.page(
                connection,
                entity=entity.value if entity is not None else None,
                states=MATCH_STATES if state == "all" else (state,),
                after_id=after,
                limit=MATCH_PAGE + 1,
            )
            counts = await tx.matches.counts(connection)
        proposals = found[:MATCH_PAGE]
        filters = {"connection": connection, "entity": entity_text, "state": state}
        more = (
            "/matches?" + urlencode({**filters, "after": proposals[-1].id})
            if len(found) > MATCH_PAGE
            else None
        )
        by_state = {
            s: sum(
                n
                for (e, st), n in counts.items()
                if st == s and (entity is None or e == entity.value)
            )
            for s in MATCH_STATES
        }
        return self.render(
            "matches_list.html",
            request,
            user=user,
            proposals=proposals,
            filters=filters,
            connections=connections,
            entities=[e.label for e in Entity],
            states=[*MATCH_STATES, "all"],
            by_state=by_state,
            first_page="/matches?" + urlencode(filters) if after else None,
            next_page=more,
            here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            label=_entity_label,
        )

    async def _get_proposal(self, proposal_id: int) -> MatchProposal | None:
        async with self.store.transaction() as tx:
            return await tx.matches.get(proposal_id)

    async def _proposal_page(
        self,
        request: Request,
        user: SessionUser,
        proposal: MatchProposal,
        *,
        status: int = 200,
        notice: str | None = None,
        error: str | None = None,
    ) -> Response:
        async with self.store.transaction() as tx:
            trail = await tx.audit.history(proposal.connection, "match", proposal.source_id)
        return self.render(
            "match_detail.html",
            request,
            status,
            user=user,
            p=proposal,
            history=[r for r in trail if r.source_system == proposal.source_system],
            label=_entity_label,
            notice=notice,
            error=error,
        )

    async def match_detail(self, request: Request, user: SessionUser) -> Response:
        proposal = await self._get_proposal(_row_id(request, "proposal_id"))
        if proposal is None:
            return self.render("error.html", request, 404, user=user, message="No such proposal.")
        notice = {
            "accepted": "Accepted and linked.",
            "rejected": "Rejected.",
            "unchanged": "Nothing to change: the proposal already was so.",
        }.get(request.query_params.get("done", ""))
        return await self._proposal_page(request, user, proposal, notice=notice)

    async def match_accept(self, request: Request, user: SessionUser) -> Response:
        return await self._match_decide(request, user, ACCEPTED)

    async def match_reject(self, request: Request, user: SessionUser) -> Response:
        return await self._match_decide(request, user, REJECTED)

    async def _match_decide(self, request: Request, user: SessionUser, state: str) -> Response:
        """Record a person's decision the way ``match apply`` records a row of the review file
        (``matching.run.decide_one``), and link an accepted proposal the way it links one."""
        from ml_connector.matching.run import DecisionRefused, decide_one  # loaded when used

        proposal_id = _row_id(request, "proposal_id")
        form = await request.form()
        target = str(form.get("target_id", "")).strip()[:200] or None
        back = _safe_next(str(form.get("next", "")))
        proposal = await self._get_proposal(proposal_id)
        if proposal is None:
            return self.render("error.html", request, 404, user=user, message="No such proposal.")
        guid = self.app_ctx.config.settings.application_guid
        if proposal.connection not in self.app_ctx.config.settings.connections or not guid:
            why = (
                f"connection {proposal.connection!r} is not in the config"
                if guid
                else "application_guid is not set in the config (ml-connector init writes one)"
            )
            return await self._proposal_page(request, user, proposal, status=409, error=why)
        opener = self.clients
        if opener is None:
            from ml_connector.runtime.clients import open_clients  # opens HTTP clients: when used

            opener = open_clients
        try:
            clients = await opener(self.app_ctx, self.store, proposal.connection)
            try:
                ctx = clients.flow_context(
                    store=self.store, clock=self.clock, application_guid=guid
                )
                decided, result = await decide_one(
                    ctx,
                    proposal_id,
                    state,
                    target_id=target if state == ACCEPTED else None,
                    by=self._who(user),
                    note="dashboard review page",
                )
            finally:
                await clients.aclose()
        except LookupError:
            return self.render("error.html", request, 404, user=user, message="No such proposal.")
        except DecisionRefused as exc:
            return await self._proposal_page(request, user, proposal, status=409, error=str(exc))
        except ConnectorError as exc:
            fresh = await self._get_proposal(proposal_id) or proposal
            return await self._proposal_page(
                request,
                user,
                fresh,
                status=502,
                error=f"{exc} (a decision already recorded stands; accept again to link it)",
            )
        if result.apply_errors:
            return await self._proposal_page(
                request,
                user,
                decided,
                status=409,
                error="Accepted, but not linked: " + "; ".join(result.apply_errors),
            )
        done = "unchanged" if result.unchanged else state
        log.info("dashboard: %s %s match proposal %s", user.name, done, proposal_id)
        if back.startswith("/matches?") or back == "/matches":
            return RedirectResponse(back, status_code=303)
        return RedirectResponse(f"/matches/{proposal_id}?done={done}", status_code=303)


def _row_id(request: Request, name: str) -> int:
    """A row id from the path; one no table can hold (beyond 64 bits) names no row (0)."""
    value = int(request.path_params[name])
    return value if 0 < value < 2**63 else 0


def _enum(kind: Any, value: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"{value!r} is not one of {', '.join(m.value for m in kind)}") from None


def _entity_label(entity: str) -> str:
    try:
        return Entity(entity).label
    except ValueError:
        return entity


def _safe_next(value: str) -> str:
    """Only a local path: never redirect a user to another site after login."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value

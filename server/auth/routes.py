from __future__ import annotations

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from server.auth import schemas, service, sessions
from server.auth.guard import (
    SESSION_COOKIE,
    client_address,
    current_staff,
    staff_required,
)
from server.http.openapi import Ok, contract, respond, staff_contract
from server.http.validation import api
from server.security.passwords import MIN_PASSWORD_LENGTH

bp = Blueprint("auth", url_prefix="/api/staff")


class LoginBody(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class ChangePasswordBody(BaseModel):
    old_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=200)


def _session_info(session: sessions.StaffSession) -> schemas.StaffSessionInfo:
    return schemas.StaffSessionInfo(
        staff_id=session.staff_id,
        username=session.username,
        role=session.role,  # type: ignore[arg-type]
        org_unit_id=session.org_unit_id,
        org_kind=session.org_kind,  # type: ignore[arg-type]
        csrf_token=session.csrf_token,
        expires_at=session.expires_at,
    )


@bp.post("/login")
@contract(response=schemas.StaffLoginResult, auth=False, body=True, example=schemas.LOGIN_EXAMPLE, errors={401: ["invalid_credentials"]})
@api(summary="Staff password login; returns a bearer token (also set as an HttpOnly cookie)", tag="auth", json=LoginBody)
async def login(request: Request, body: LoginBody) -> HTTPResponse:
    token, session = await service.login(
        kv=request.app.ctx.kv,
        security=request.app.ctx.settings.security,
        username=body.username,
        password=body.password,
        request_id=request.ctx.request_id,
        source=client_address(request),
    )
    response = respond(schemas.StaffLoginResult(token=token, session=_session_info(session)))
    response.add_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict", secure=not request.app.ctx.settings.is_development, max_age=request.app.ctx.settings.security.staff_session_ttl_seconds)
    return response


@bp.post("/logout")
@staff_contract(response=Ok)
@api(summary="End the current staff session", tag="auth")
@staff_required()
async def logout(request: Request) -> HTTPResponse:
    await sessions.end_session(request.app.ctx.kv, request.ctx.session_token)
    response = respond(Ok())
    response.delete_cookie(SESSION_COOKIE)
    return response


@bp.get("/me")
@staff_contract(response=schemas.StaffSessionInfo)
@api(summary="The logged-in staff member", tag="auth")
async def me(request: Request) -> HTTPResponse:
    session = await current_staff(request)
    return respond(_session_info(session))


@bp.post("/password")
@staff_contract(response=schemas.PasswordChanged, body=True, errors={401: ["invalid_credentials"], 422: ["password_unchanged"]})
@api(summary="Change one's own password; ends every session of the account and returns a new token", tag="auth", json=ChangePasswordBody)
@staff_required()
async def change_password(request: Request, body: ChangePasswordBody) -> HTTPResponse:
    settings = request.app.ctx.settings
    token, session = await service.change_password(kv=request.app.ctx.kv, security=settings.security, staff_id=request.ctx.staff.staff_id, old_password=body.old_password, new_password=body.new_password, actor=request.ctx.actor)
    # Every other session of this account has ended; this client continues with a fresh one.
    response = respond(schemas.PasswordChanged(token=token, session=_session_info(session)))
    if request.cookies.get(SESSION_COOKIE):
        response.add_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict", secure=not settings.is_development, path="/", max_age=settings.security.staff_session_ttl_seconds)
    return response

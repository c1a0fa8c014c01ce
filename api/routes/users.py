"""Users, for admins: create (with a one-time password unless one is given), list, change
the role, contractor scope, language or active flag, and reset a password. A reset and a
deactivation end the user's sessions at once. An admin signed in may not deactivate
themself or drop their own admin role (another admin must)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from api.deps import AdminDep, StoresDep, users_for
from api.routes.session import ACCOUNT_ERRORS, account_refusal
from api.routing import AuthenticatedRoute
from quality.accounts import Principal
from quality.users.errors import AccountError, InvalidInput
from quality.users.store import UNSET, NewPassword, UserView

router = APIRouter(prefix="/api/users", tags=["users"], route_class=AuthenticatedRoute)

Username = Annotated[str, Path(max_length=64, description="the user name, as listed")]


class UserPublic(BaseModel):
    username: str
    display_name: str
    role: str
    contractor: str | None
    language: str
    active: bool
    must_change_password: bool
    created_at: str
    updated_at: str
    password_changed_at: str
    last_sign_in_at: str | None

    @classmethod
    def of(cls, view: UserView) -> UserPublic:
        return cls(
            username=view.username,
            display_name=view.display_name,
            role=view.role,
            contractor=view.contractor,
            language=view.language,
            active=view.active,
            must_change_password=view.must_change_password,
            created_at=view.created_at.isoformat(),
            updated_at=view.updated_at.isoformat(),
            password_changed_at=view.password_changed_at.isoformat(),
            last_sign_in_at=view.last_sign_in_at.isoformat() if view.last_sign_in_at else None,
        )


class UserCreate(BaseModel):
    username: str = Field(max_length=256)
    role: str = Field(max_length=32)
    display_name: str | None = Field(None, max_length=256)
    contractor: str | None = Field(
        None, max_length=256, description="a contractor (维保单位): only its tickets are seen"
    )
    language: str = Field("zh-CN", max_length=16, description="zh-CN or en")
    password: str | None = Field(
        None, max_length=4096, description="omit for a one-time password, shown once"
    )


class UserUpdate(BaseModel):
    """Only the fields sent change; `contractor: null` removes the scope."""

    display_name: str | None = Field(None, max_length=256)
    role: str | None = Field(None, max_length=32)
    contractor: str | None = Field(None, max_length=256)
    language: str | None = Field(None, max_length=16)
    active: bool | None = None


class PasswordReset(BaseModel):
    password: str | None = Field(
        None, max_length=4096, description="omit for a one-time password, shown once"
    )


class PasswordSet(BaseModel):
    user: UserPublic
    one_time_password: str | None = Field(
        description="the generated password, shown this once; the user must change it"
    )
    sessions_revoked: int


def _password_set(made: NewPassword) -> PasswordSet:
    return PasswordSet(
        user=UserPublic.of(made.user),
        one_time_password=made.one_time,
        sessions_revoked=made.sessions_revoked,
    )


def _json(model: BaseModel, status: int = 200) -> Response:
    return Response(model.model_dump_json().encode(), status, media_type="application/json")


@router.get("", response_model=list[UserPublic])
def list_users(stores: StoresDep, _who: AdminDep) -> list[UserPublic]:
    return [UserPublic.of(view) for view in users_for(stores).list()]


@router.post("", response_model=PasswordSet, status_code=201, responses=ACCOUNT_ERRORS)
def create_user(body: UserCreate, request: Request, stores: StoresDep, _who: AdminDep) -> Response:
    try:
        made = users_for(stores).create(
            body.username,
            body.role,
            display_name=body.display_name,
            contractor=body.contractor,
            language=body.language,
            password=body.password,
        )
    except AccountError as error:
        return account_refusal(request, error)
    return _json(_password_set(made), 201)


@router.get("/{username}", response_model=UserPublic, responses=ACCOUNT_ERRORS)
def get_user(username: Username, request: Request, stores: StoresDep, _who: AdminDep) -> Response:
    try:
        return _json(UserPublic.of(users_for(stores).get(username)))
    except AccountError as error:
        return account_refusal(request, error)


def _own_admin(who: Principal, username: str, body: UserUpdate) -> bool:
    """Would this change take the signed-in admin's own admin rights away?"""
    if who.user is None or who.user.username != username.strip().lower():
        return False
    demoted = "role" in body.model_fields_set and (body.role or "").strip().lower() != "admin"
    return demoted or ("active" in body.model_fields_set and body.active is False)


@router.patch("/{username}", response_model=UserPublic, responses=ACCOUNT_ERRORS)
def update_user(
    username: Username, body: UserUpdate, request: Request, stores: StoresDep, who: AdminDep
) -> Response:
    given = body.model_fields_set
    try:
        if _own_admin(who, username, body):
            raise InvalidInput("accounts.error.own_admin", "role" if "role" in given else "active")
        view = users_for(stores).update(
            username,
            display_name=(body.display_name or "") if "display_name" in given else UNSET,
            role=(body.role or "") if "role" in given else UNSET,
            contractor=body.contractor if "contractor" in given else UNSET,
            language=(body.language or "") if "language" in given else UNSET,
            active=bool(body.active) if "active" in given and body.active is not None else UNSET,
        )
    except AccountError as error:
        return account_refusal(request, error)
    return _json(UserPublic.of(view))


@router.post("/{username}/password", response_model=PasswordSet, responses=ACCOUNT_ERRORS)
def reset_password(
    username: Username, body: PasswordReset, request: Request, stores: StoresDep, _who: AdminDep
) -> Response:
    try:
        made = users_for(stores).reset_password(username, body.password)
    except AccountError as error:
        return account_refusal(request, error)
    return _json(_password_set(made))

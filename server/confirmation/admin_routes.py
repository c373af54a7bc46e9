"""Routes for the notice, suspension, death, spot-check and report parts of annual confirmation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, ResponseStream, file, html, json, raw

from models.confirmation import SuspensionStatus
from models.org import OrgUnit
from models.staff import Role
from server import import_jobs, media, xlsx
from server.auth.guard import staff_required
from server.confirmation import (
    deaths,
    hardship,
    notices,
    reports,
    spot_checks,
    summary_document,
    suspensions,
)
from server.confirmation import schemas as s
from server.confirmation.campaigns import get_campaign
from server.errors import NotFound, PayloadTooLarge
from server.http.openapi import XLSX, staff_contract
from server.http.uploads import required_upload
from server.http.validation import api

bp = Blueprint("confirmation_admin", url_prefix="/api")


class NoticeBody(BaseModel):
    station_id: int | None = Field(default=None, description="omit for the county-wide notice (a station's staff always get their own station)")
    village_id: int | None = Field(default=None, description="a village (community) notice for its 公开栏")


def _evidence(request: Request) -> list[notices.Evidence]:
    """Multipart: one or more files per channel field (website / town_board / village_board)."""
    limit = request.app.ctx.settings.uploads.max_image_bytes
    items: list[notices.Evidence] = []
    for channel in (request.files or {}):
        for upload in request.files.getlist(channel) or []:
            if len(upload.body) > limit:
                raise PayloadTooLarge(limit_bytes=limit)
            if upload.body:
                items.append(notices.Evidence(channel=channel, data=upload.body, note=(request.form.get("note") if request.form else None) or ""))
    return items


class ApproveBody(BaseModel):
    proposal_ids: list[int] = Field(min_length=1, max_length=2000)


class WithdrawBody(BaseModel):
    reason: str = Field(min_length=1, max_length=200)


class NoticeQuery(BaseModel):
    page: int = Field(default=1, ge=1)
    page_size: int = Field(default=200, ge=1, le=2000)


class ProposalQuery(BaseModel):
    status: SuspensionStatus | None = None


class ResumptionQuery(BaseModel):
    status: str | None = Field(default=None, pattern="^(pending|signed_off)$")


class RecoveryBody(BaseModel):
    amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    recovered_on: date
    note: str = Field(default="", max_length=200)


class OverpaymentQuery(BaseModel):
    outstanding_only: bool = True


class SpotCheckBody(BaseModel):
    size: int | None = Field(default=None, ge=1, le=10000)
    percentage: float | None = Field(default=None, gt=0, le=100)
    seed: str | None = Field(default=None, max_length=64, description="omit to generate one; it is recorded either way")


class SpotResultBody(BaseModel):
    result: str = Field(pattern="^(verified|discrepancy|not_reached)$")
    notes: str = Field(default="", max_length=300)


class VisitsQuery(BaseModel):
    station_id: int | None = None


class HardshipBody(BaseModel):
    beneficiary_id: int
    situation: str = Field(min_length=2, max_length=2000)
    measures: list[str] = Field(min_length=1, max_length=20)
    owner_name: str = Field(min_length=1, max_length=64, description="who is responsible (明确责任)")
    owner_staff_id: int | None = None
    next_follow_up_due: date
    campaign_id: int | None = None


class FollowUpBody(BaseModel):
    note: str = Field(min_length=2, max_length=2000)
    effect: str = Field(default="", max_length=300, description="what it achieved (跟踪问效)")
    next_due: date | None = None
    close: bool = False


class HardshipQuery(BaseModel):
    station_id: int | None = None
    status: str | None = Field(default="open", pattern="^(open|closed)$")
    overdue: bool = False


def _xlsx(data: bytes, filename: str) -> HTTPResponse:
    return raw(data, content_type=xlsx.MIME, headers=xlsx.download_headers(filename))


@bp.post("/campaigns/<campaign_id:int>/notices")
@staff_contract(response=s.NoticeDetail, status=201, also=[202], errors={403: ["out_of_scope"], 404: ["campaign_not_found", "station_not_found", "village_not_found"], 409: ["not_notice_stage"]}, body=True, roles=True, write=True, path_ids=["campaign_id"])
@api(
    summary="Generate the public notice of the unconfirmed (station or county), names and ID numbers masked",
    description="A background job lists the people. 201 with the notice (first page of entries) when it finished within a moment, else 202 with the notice in state generating (no entries yet) and generation.progress_url to poll.",
    tag="confirmation notices",
    json=NoticeBody,
)
@staff_required(Role.STATION, Role.CENTRE, Role.BUREAU, write=True)
async def create_notice(request: Request, campaign_id: int, body: NoticeBody) -> HTTPResponse:
    settings = request.app.ctx.settings
    notice, _ = await notices.start_notice(scope=request.ctx.scope, actor=request.ctx.actor, campaign_id=campaign_id, station_id=body.station_id, village_id=body.village_id, settings=settings)
    notice, job = await notices.wait_generated(notice, wait_seconds=settings.uploads.import_inline_wait_seconds)
    ready = notices.notice_state(job) == "ready"
    entries = await notices.entries_page(notice, offset=0, limit=NoticeQuery().page_size) if ready else []
    return json(notices.notice_json(notice, entries=entries, page=1, page_size=NoticeQuery().page_size, generation=job), status=201 if ready else 202, ensure_ascii=False)


@bp.get("/notices/<notice_id:int>/generation/<job_id:int>")
@staff_contract(response=s.NoticeGeneration, errors={404: ["notice_not_found", "job_not_found"]}, path_ids=["notice_id", "job_id"])
@api(summary="Progress of a notice's generation job: done with the people listed, or failed", tag="confirmation notices")
@staff_required()
async def notice_generation(request: Request, notice_id: int, job_id: int) -> HTTPResponse:
    _, job = await notices.generation_of(scope=request.ctx.scope, notice_id=notice_id, job_id=job_id)
    return json(notices.generation_json(job), ensure_ascii=False)


@bp.get("/campaigns/<campaign_id:int>/notices")
@staff_contract(response=s.NoticeList, errors={404: ["campaign_not_found"]}, path_ids=["campaign_id"])
@api(summary="The public notices of a campaign (county and the stations in scope), without entries; state says which are still generating", tag="confirmation notices")
@staff_required()
async def list_notices(request: Request, campaign_id: int) -> HTTPResponse:
    items = await notices.list_notices(scope=request.ctx.scope, campaign_id=campaign_id)
    jobs = await notices.generation_jobs(items)
    return json({"items": [notices.notice_json(n, generation=jobs.get(n.id)) for n in items]}, ensure_ascii=False)


@bp.get("/notices/<notice_id:int>")
@staff_contract(response=s.NoticeDetail, errors={404: ["notice_not_found"]}, query=True, path_ids=["notice_id"])
@api(summary="A public notice as JSON: its entries a page at a time (people is their total), its generation job, and its messages job once published", tag="confirmation notices", query=NoticeQuery)
@staff_required()
async def get_notice(request: Request, notice_id: int, query: NoticeQuery) -> HTTPResponse:
    notice = await notices.get_notice(scope=request.ctx.scope, notice_id=notice_id)
    generation = await notices.generation_job(notice)
    entries = await notices.entries_page(notice, offset=(query.page - 1) * query.page_size, limit=query.page_size) if notices.notice_state(generation) == "ready" else []
    messages = notices.messages_json(await notices.messages_job(notice))
    return json({**notices.notice_json(notice, entries=entries, page=query.page, page_size=query.page_size, generation=generation), "messages": messages}, ensure_ascii=False)


@bp.get("/notices/<notice_id:int>/xlsx")
@staff_contract(response=None, file={XLSX: "the notice as a spreadsheet"}, errors={404: ["notice_not_found"], 409: ["notice_generating", "notice_generation_failed"]}, path_ids=["notice_id"])
@api(summary="A public notice as XLSX", tag="confirmation notices")
@staff_required()
async def notice_xlsx(request: Request, notice_id: int) -> HTTPResponse | ResponseStream:
    notice = await notices.get_notice(scope=request.ctx.scope, notice_id=notice_id)
    await notices.require_ready(notice)
    title, _ = await notices.notice_heading(notice)
    return await xlsx.stream_download(f"未确认人员公告-{notice.id}.xlsx", notices.notice_sheet(notice, title))


@bp.get("/notices/<notice_id:int>/print")
@staff_contract(response=None, html="the notice, to print for the boards", errors={404: ["notice_not_found"], 409: ["notice_generating", "notice_generation_failed"]}, path_ids=["notice_id"])
@api(summary="A public notice as a printable page (for village and station boards)", tag="confirmation notices")
@staff_required()
async def notice_print(request: Request, notice_id: int) -> HTTPResponse:
    notice = await notices.get_notice(scope=request.ctx.scope, notice_id=notice_id)
    await notices.require_ready(notice)
    title, publisher = await notices.notice_heading(notice, issuer=request.app.ctx.settings.confirmation.notice_issuer)
    return html(await notices.notice_html(notice, title, publisher))


@bp.post("/notices/<notice_id:int>/publish")
@staff_contract(response=s.NoticeWithEvidence, errors={400: ["missing_file", "empty_file"], 413: ["payload_too_large"], 415: ["unsupported_file"], 403: ["out_of_scope"], 404: ["notice_not_found"], 409: ["notice_already_published", "not_notice_stage", "notice_generating", "notice_generation_failed"], 422: ["bad_channel", "evidence_required"]}, roles=True, write=True, path_ids=["notice_id"])
@api(
    summary="Record publication today (server date: the 60 days run from it) with its evidence per channel; the listed people are notified",
    tag="confirmation notices",
    multipart={"website": "capture of the county website page", "town_board": "photo of the 镇街公示栏", "village_board": "photo of a 村(社区)公开栏", "note": "optional text"},
)
@staff_required(Role.STATION, Role.CENTRE, Role.BUREAU, write=True)
async def publish(request: Request, notice_id: int) -> HTTPResponse:
    settings = request.app.ctx.settings
    notice = await notices.publish_notice(scope=request.ctx.scope, actor=request.ctx.actor, notice_id=notice_id, evidence=_evidence(request), media_dir=settings.media_dir, issuer=settings.confirmation.notice_issuer, settings=settings)
    messages = notices.messages_json(await notices.messages_job(notice, wait_seconds=settings.uploads.import_inline_wait_seconds))
    return json({**notices.notice_json(notice), "messages": messages, "evidence": [notices.evidence_json(e) for e in await notices.list_evidence(notice_id=notice.id)]}, ensure_ascii=False)


@bp.post("/notices/<notice_id:int>/evidence")
@staff_contract(response=s.NoticeWithEvidence, errors={400: ["missing_file", "empty_file"], 413: ["payload_too_large"], 415: ["unsupported_file"], 403: ["out_of_scope"], 404: ["notice_not_found"], 409: ["notice_not_published"], 422: ["bad_channel", "evidence_required"]}, roles=True, write=True, path_ids=["notice_id"])
@api(summary="Add evidence after publication (another board, the website page)", tag="confirmation notices", multipart={"website": "", "town_board": "", "village_board": ""})
@staff_required(Role.STATION, Role.CENTRE, Role.BUREAU, write=True)
async def add_evidence(request: Request, notice_id: int) -> HTTPResponse:
    notice = await notices.add_evidence(scope=request.ctx.scope, actor=request.ctx.actor, notice_id=notice_id, evidence=_evidence(request), media_dir=request.app.ctx.settings.media_dir)
    messages = notices.messages_json(await notices.messages_job(notice))
    return json({**notices.notice_json(notice), "messages": messages, "evidence": [notices.evidence_json(e) for e in await notices.list_evidence(notice_id=notice.id)]}, ensure_ascii=False)


@bp.get("/notices/<notice_id:int>/evidence")
@staff_contract(response=s.EvidenceList, errors={404: ["notice_not_found"]}, path_ids=["notice_id"])
@api(summary="The evidence of a notice's publication", tag="confirmation notices")
@staff_required()
async def list_evidence(request: Request, notice_id: int) -> HTTPResponse:
    notice = await notices.get_notice(scope=request.ctx.scope, notice_id=notice_id)
    return json({"items": [notices.evidence_json(e) for e in await notices.list_evidence(notice_id=notice.id)]}, ensure_ascii=False)


@bp.get("/notice-evidence/<evidence_id:int>")
@staff_contract(response=None, file={"image/jpeg": "the evidence", "image/png": "the evidence", "application/pdf": "the evidence"}, errors={404: ["evidence_not_found"]}, path_ids=["evidence_id"])
@api(summary="One evidence file", tag="confirmation notices")
@staff_required()
async def evidence_file(request: Request, evidence_id: int) -> HTTPResponse:
    item = await notices.get_evidence(scope=request.ctx.scope, evidence_id=evidence_id)
    return await file(media.resolve(request.app.ctx.settings.media_dir, item.path), mime_type=item.content_type, headers={"Cache-Control": "private, no-store"})


@bp.post("/campaigns/<campaign_id:int>/suspension-proposals")
@staff_contract(response=s.ProposalsCreated, errors={403: ["out_of_scope"], 404: ["campaign_not_found"], 409: ["no_published_notice", "campaign_not_open"]}, roles=True, write=True, path_ids=["campaign_id"])
@api(summary="Propose suspension for everyone still unconfirmed 60 days (server's date) after their notice was published; refused before (idempotent; withdraws proposals of people who confirmed since). No body: any date sent is ignored.", tag="confirmation suspensions")
@staff_required(Role.BUREAU, Role.CENTRE, write=True)
async def propose(request: Request, campaign_id: int) -> HTTPResponse:
    created = await suspensions.propose_suspensions(scope=request.ctx.scope, actor=request.ctx.actor, campaign_id=campaign_id, notice_days=request.app.ctx.settings.confirmation.notice_to_suspension_days)
    return json({"created": created})


@bp.get("/campaigns/<campaign_id:int>/suspension-proposals")
@staff_contract(response=s.ProposalList, errors={404: ["campaign_not_found"]}, query=True, path_ids=["campaign_id"])
@api(summary="Suspension proposals in scope", tag="confirmation suspensions", query=ProposalQuery)
@staff_required()
async def proposals(request: Request, campaign_id: int, query: ProposalQuery) -> HTTPResponse:
    items = await suspensions.list_proposals(scope=request.ctx.scope, campaign_id=campaign_id, status=query.status)
    return json({"items": await suspensions.proposals_with_contacts(campaign_id=campaign_id, items=items)}, ensure_ascii=False)


@bp.post("/suspension-proposals/approve")
@staff_contract(response=s.ApprovalResult, errors={403: ["out_of_scope"]}, body=True, roles=True, write=True)
@api(summary="Bureau approves one or many proposals: payments suspended from the first day of next month", tag="confirmation suspensions", json=ApproveBody)
@staff_required(Role.BUREAU, write=True)
async def approve(request: Request, body: ApproveBody) -> HTTPResponse:
    return json(await suspensions.approve(scope=request.ctx.scope, actor=request.ctx.actor, proposal_ids=body.proposal_ids, notice_days=request.app.ctx.settings.confirmation.notice_to_suspension_days))


@bp.post("/suspension-proposals/<proposal_id:int>/withdraw")
@staff_contract(response=s.ProposalInfo, errors={403: ["out_of_scope"], 404: ["proposal_not_found"], 409: ["proposal_not_open"]}, body=True, roles=True, write=True, path_ids=["proposal_id"])
@api(summary="Bureau withdraws an open suspension proposal with a reason", tag="confirmation suspensions", json=WithdrawBody)
@staff_required(Role.BUREAU, write=True)
async def withdraw(request: Request, proposal_id: int, body: WithdrawBody) -> HTTPResponse:
    proposal = await suspensions.withdraw(scope=request.ctx.scope, actor=request.ctx.actor, proposal_id=proposal_id, reason=body.reason)
    return json(suspensions.proposal_json(proposal, proposal.beneficiary), ensure_ascii=False)


@bp.get("/resumptions")
@staff_contract(response=s.ResumptionList, query=True)
@api(summary="Resumptions of payment after a suspended person confirmed", tag="confirmation suspensions", query=ResumptionQuery)
@staff_required()
async def resumptions(request: Request, query: ResumptionQuery) -> HTTPResponse:
    return json({"items": [suspensions.resumption_json(r, r.beneficiary) for r in await suspensions.list_resumptions(scope=request.ctx.scope, status=query.status)]}, ensure_ascii=False)


@bp.post("/resumptions/<resumption_id:int>/sign-off")
@staff_contract(response=s.ResumptionInfo, errors={403: ["out_of_scope"], 404: ["resumption_not_found"], 409: ["resumption_already_signed_off"]}, roles=True, write=True, path_ids=["resumption_id"])
@api(summary="Bureau signs a resumption off: payments resume the following month, back pay noted", tag="confirmation suspensions")
@staff_required(Role.BUREAU, write=True)
async def sign_off(request: Request, resumption_id: int) -> HTTPResponse:
    resumption = await suspensions.sign_off_resumption(scope=request.ctx.scope, actor=request.ctx.actor, resumption_id=resumption_id)
    return json(suspensions.resumption_json(resumption, resumption.beneficiary), ensure_ascii=False)


@bp.post("/deaths/import")
@staff_contract(response=s.DeathImportJob, also=[202], errors={400: ["missing_file", "empty_file"], 413: ["payload_too_large"], 415: ["unsupported_file"], 422: ["import_file_invalid", "import_bad_csv", "import_bad_xlsx", "import_missing_columns"]}, roles=True, write=True)
@api(
    summary="Import deaths from civil-affairs, police or funeral data (CSV/XLSX: ID number, name, date of death, source) as a background job",
    description="A list that is finished within a moment answers 200 with the row report; a larger one answers 202 with job_id and progress_url to poll.",
    tag="confirmation deaths",
    multipart={"file": ".csv or .xlsx"},
)
@staff_required(Role.BUREAU, write=True)
async def import_deaths(request: Request) -> HTTPResponse:
    settings = request.app.ctx.settings
    name, data = required_upload(request, "file", limit=settings.uploads.max_import_bytes)
    report = await deaths.import_deaths(scope=request.ctx.scope, actor=request.ctx.actor, filename=name, data=data, settings=settings, wait_seconds=settings.uploads.import_inline_wait_seconds)
    return json(report, status=200 if report["status"] == "done" else 202, ensure_ascii=False)


@bp.get("/deaths/imports/<job_id:int>")
@staff_contract(response=s.DeathImportJob, path_ids=["job_id"], errors={404: ["import_not_found"]})
@api(summary="Progress and row report of a death-list import job", tag="confirmation deaths")
@staff_required()
async def death_import_progress(request: Request, job_id: int) -> HTTPResponse:
    batch = await import_jobs.get_import(kind=deaths.DEATH_IMPORT, scope=request.ctx.scope, actor=request.ctx.actor, job_id=job_id)
    return json(import_jobs.progress_json(batch), ensure_ascii=False)


@bp.get("/overpayments")
@staff_contract(response=s.DeathRecordList, query=True)
@api(summary="Overpayments after deaths, tracked until recovered", tag="confirmation deaths", query=OverpaymentQuery)
@staff_required()
async def overpayments(request: Request, query: OverpaymentQuery) -> HTTPResponse:
    return json({"items": [deaths.death_json(d, d.beneficiary) for d in await deaths.list_overpayments(scope=request.ctx.scope, outstanding_only=query.outstanding_only)]}, ensure_ascii=False)


@bp.get("/overpayments/<death_record_id:int>/recoveries")
@staff_contract(response=s.RecoveryList, errors={404: ["death_record_not_found"]}, path_ids=["death_record_id"])
@api(summary="The amounts recovered so far for one overpayment, with their dates", tag="confirmation deaths")
@staff_required()
async def recoveries(request: Request, death_record_id: int) -> HTTPResponse:
    return json({"items": [deaths.recovery_json(r) for r in await deaths.list_recoveries(scope=request.ctx.scope, death_record_id=death_record_id)]}, ensure_ascii=False)


@bp.post("/overpayments/<death_record_id:int>/recoveries")
@staff_contract(response=s.DeathRecordInfo, errors={403: ["out_of_scope"], 404: ["death_record_not_found"], 409: ["nothing_outstanding"], 422: ["bad_recovery_amount", "bad_recovery_date"]}, body=True, roles=True, write=True, path_ids=["death_record_id"])
@api(summary="Record an amount recovered", tag="confirmation deaths", json=RecoveryBody)
@staff_required(Role.BUREAU, write=True)
async def recover(request: Request, death_record_id: int, body: RecoveryBody) -> HTTPResponse:
    record = await deaths.record_recovery(scope=request.ctx.scope, actor=request.ctx.actor, death_record_id=death_record_id, **body.model_dump())
    return json(deaths.death_json(record, record.beneficiary), ensure_ascii=False)


@bp.post("/campaigns/<campaign_id:int>/spot-checks")
@staff_contract(response=s.SpotCheckDrawn, status=201, errors={403: ["out_of_scope"], 404: ["campaign_not_found"], 409: ["implementation_not_finished", "nothing_to_sample"], 422: ["sample_size_required"]}, body=True, roles=True, write=True, path_ids=["campaign_id"])
@api(summary="Draw a random spot-check sample of confirmed people (size or percentage; the seed is recorded)", tag="confirmation spot checks", json=SpotCheckBody)
@staff_required(Role.CENTRE, Role.BUREAU, write=True)
async def draw(request: Request, campaign_id: int, body: SpotCheckBody) -> HTTPResponse:
    check = await spot_checks.draw_spot_check(scope=request.ctx.scope, actor=request.ctx.actor, campaign_id=campaign_id, **body.model_dump())
    return json({"id": check.id, "seed": check.seed, "sample_size": check.sample_size, "population": check.population}, status=201)


@bp.get("/campaigns/<campaign_id:int>/spot-checks")
@staff_contract(response=s.SpotCheckStatus, errors={404: ["campaign_not_found"]}, path_ids=["campaign_id"])
@api(summary="Spot checks of a campaign, with a warning below two a year", tag="confirmation spot checks")
@staff_required()
async def spot_status(request: Request, campaign_id: int) -> HTTPResponse:
    return json(await spot_checks.spot_check_status(scope=request.ctx.scope, campaign_id=campaign_id), ensure_ascii=False)


@bp.get("/spot-checks/<spot_check_id:int>/items")
@staff_contract(response=s.SpotCheckItemList, errors={404: ["spot_check_not_found"]}, path_ids=["spot_check_id"])
@api(summary="The sampled people in scope and their results", tag="confirmation spot checks")
@staff_required()
async def spot_items(request: Request, spot_check_id: int) -> HTTPResponse:
    items = await spot_checks.list_items(scope=request.ctx.scope, spot_check_id=spot_check_id)
    return json({"items": [{"id": i.id, "confirmation_id": i.confirmation_id, "station_id": i.station_id, "name": i.confirmation.beneficiary.name, "id_number": i.confirmation.beneficiary.id_number_masked, "result": i.result, "notes": i.notes} for i in items]}, ensure_ascii=False)


@bp.get("/spot-checks/<spot_check_id:int>/verify")
@staff_contract(response=s.SpotCheckVerification, errors={404: ["spot_check_not_found"]}, path_ids=["spot_check_id"])
@api(summary="Re-draw the sample from its recorded seed and compare", tag="confirmation spot checks")
@staff_required()
async def spot_verify(request: Request, spot_check_id: int) -> HTTPResponse:
    return json(await spot_checks.verify_draw(scope=request.ctx.scope, spot_check_id=spot_check_id))


@bp.post("/spot-check-items/<item_id:int>/result")
@staff_contract(response=s.SpotResult, errors={403: ["out_of_scope"], 404: ["spot_check_item_not_found"], 422: ["bad_spot_check_result"]}, body=True, roles=True, write=True, path_ids=["item_id"])
@api(summary="Record one spot-check result", tag="confirmation spot checks", json=SpotResultBody)
@staff_required(Role.STATION, Role.CENTRE, Role.BUREAU, write=True)
async def spot_result(request: Request, item_id: int, body: SpotResultBody) -> HTTPResponse:
    item = await spot_checks.record_result(scope=request.ctx.scope, actor=request.ctx.actor, item_id=item_id, result=body.result, notes=body.notes)
    return json({"id": item.id, "result": item.result})


@bp.get("/campaigns/<campaign_id:int>/progress")
@staff_contract(response=s.Progress, errors={404: ["campaign_not_found"]}, path_ids=["campaign_id"])
@api(summary="Progress per station × age bracket × method with home-visit quota compliance (JSON)", tag="confirmation reports")
@staff_required()
async def progress(request: Request, campaign_id: int) -> HTTPResponse:
    return json(await reports.progress(scope=request.ctx.scope, campaign_id=campaign_id), ensure_ascii=False)


@bp.get("/campaigns/<campaign_id:int>/progress.xlsx")
@staff_contract(response=None, file={XLSX: "the progress table"}, errors={404: ["campaign_not_found"]}, path_ids=["campaign_id"])
@api(summary="The same progress report as XLSX", tag="confirmation reports")
@staff_required()
async def progress_xlsx(request: Request, campaign_id: int) -> HTTPResponse:
    report = await reports.progress(scope=request.ctx.scope, campaign_id=campaign_id)
    return _xlsx(reports.progress_xlsx(report), f"年度确认进度-{report['campaign']}.xlsx")


@bp.get("/campaigns/<campaign_id:int>/visits-needed")
@staff_contract(response=s.VisitsNeeded, errors={404: ["campaign_not_found"]}, query=True, path_ids=["campaign_id"])
@api(summary="Home-visit quota per station and bracket, and who still needs a visit (cells below quota; unconfirmed 80+ first)", tag="confirmation reports", query=VisitsQuery)
@staff_required()
async def visits_needed(request: Request, campaign_id: int, query: VisitsQuery) -> HTTPResponse:
    return json(await reports.quota_view(scope=request.ctx.scope, campaign_id=campaign_id, station_id=query.station_id), ensure_ascii=False)


@bp.get("/campaigns/<campaign_id:int>/summary")
@staff_contract(response=s.CampaignSummary, errors={404: ["campaign_not_found"]}, path_ids=["campaign_id"])
@api(summary="Campaign summary for the summary stage", tag="confirmation reports")
@staff_required()
async def summary(request: Request, campaign_id: int) -> HTTPResponse:
    return json(await reports.summary(scope=request.ctx.scope, campaign_id=campaign_id), ensure_ascii=False)


@bp.get("/campaigns/<campaign_id:int>/weekly-reports")
@staff_contract(response=s.SnapshotList, errors={404: ["campaign_not_found"]}, path_ids=["campaign_id"])
@api(summary="Friday progress snapshots kept for this campaign's county", tag="confirmation reports")
@staff_required()
async def weekly(request: Request, campaign_id: int) -> HTTPResponse:
    snapshots = await reports.list_snapshots(scope=request.ctx.scope, campaign_id=campaign_id)
    return json({"items": [reports.snapshot_json(s) for s in snapshots]})


@bp.get("/weekly-reports/<snapshot_id:int>")
@staff_contract(response=s.SnapshotDetail, errors={404: ["report_not_found"]}, path_ids=["snapshot_id"])
@api(summary="A Friday snapshot as JSON (the progress report as it was that week)", tag="confirmation reports")
@staff_required()
async def weekly_json(request: Request, snapshot_id: int) -> HTTPResponse:
    snapshot = await reports.get_snapshot(scope=request.ctx.scope, snapshot_id=snapshot_id)
    return json(reports.snapshot_json(snapshot, with_data=True), ensure_ascii=False)


@bp.get("/weekly-reports/<snapshot_id:int>/xlsx")
@staff_contract(response=None, file={XLSX: "the weekly report"}, errors={404: ["report_not_found"]}, path_ids=["snapshot_id"])
@api(summary="Download a Friday snapshot as XLSX", tag="confirmation reports")
@staff_required()
async def weekly_xlsx(request: Request, snapshot_id: int) -> HTTPResponse:
    snapshot = await reports.get_snapshot(scope=request.ctx.scope, snapshot_id=snapshot_id)
    if snapshot.xlsx_path is None:
        raise NotFound("报表不存在", code="report_not_found")
    return await file(media.resolve(request.app.ctx.settings.media_dir, snapshot.xlsx_path), mime_type=xlsx.MIME, headers=xlsx.download_headers(f"年度确认进度周报-{snapshot.period}.xlsx"))


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@bp.get("/campaigns/<campaign_id:int>/summary.docx")
@staff_contract(response=None, file={DOCX: "the year's written summary"}, errors={404: ["campaign_not_found"]}, path_ids=["campaign_id"])
@api(summary="The summary to submit (总结上报) as a Word document: 基本情况, 未完成确认人员情况说明, 目前存在问题及建议", tag="confirmation reports")
@staff_required()
async def summary_docx(request: Request, campaign_id: int) -> HTTPResponse:
    scope = request.ctx.scope
    campaign = await get_campaign(scope=scope, campaign_id=campaign_id)
    data = await reports.summary(scope=scope, campaign_id=campaign.id, unconfirmed_limit=5000)
    district = await OrgUnit.get(id=campaign.district_id)
    issuer = request.app.ctx.settings.confirmation.notice_issuer or district.name
    document = summary_document.summary_docx(data, district=district.name.removesuffix("退役军人事务局"), issuer=issuer, hardship=await hardship.counts(scope=scope))
    return raw(document, content_type=DOCX, headers={"Content-Disposition": f"attachment; filename*=UTF-8''summary-{campaign.year}.docx"})


@bp.post("/hardship-cases")
@staff_contract(response=s.HardshipCaseInfo, status=201, errors={403: ["out_of_scope"], 404: ["beneficiary_not_found"], 409: ["hardship_case_open"], 422: ["measures_required", "bad_due_date"]}, body=True, roles=True, write=True)
@api(summary="Open a hardship case (建档立卡): situation, measures, who is responsible, first follow-up date", tag="confirmation hardship", json=HardshipBody)
@staff_required(Role.STATION, Role.CENTRE, Role.BUREAU, write=True)
async def open_hardship(request: Request, body: HardshipBody) -> HTTPResponse:
    case = await hardship.open_case(scope=request.ctx.scope, actor=request.ctx.actor, **body.model_dump())
    return json(hardship.case_json(await hardship.get_case(scope=request.ctx.scope, case_id=case.id), follow_up_rows=[]), status=201, ensure_ascii=False)


@bp.get("/hardship-cases")
@staff_contract(response=s.HardshipCaseList, query=True)
@api(summary="Hardship cases in scope, per station, overdue follow-ups flagged (overdue=true: only those)", tag="confirmation hardship", query=HardshipQuery)
@staff_required()
async def list_hardship(request: Request, query: HardshipQuery) -> HTTPResponse:
    items = await hardship.list_cases(scope=request.ctx.scope, station_id=query.station_id, status=query.status, overdue_only=query.overdue)
    return json({"items": [hardship.case_json(c) for c in items], "per_station": await hardship.per_station(scope=request.ctx.scope)}, ensure_ascii=False)


@bp.get("/hardship-cases/<case_id:int>")
@staff_contract(response=s.HardshipCaseInfo, errors={404: ["hardship_case_not_found"]}, path_ids=["case_id"])
@api(summary="One hardship case with its follow-ups", tag="confirmation hardship")
@staff_required()
async def get_hardship(request: Request, case_id: int) -> HTTPResponse:
    case = await hardship.get_case(scope=request.ctx.scope, case_id=case_id)
    return json(hardship.case_json(case, follow_up_rows=await hardship.follow_ups(case_id=case.id)), ensure_ascii=False)


@bp.post("/hardship-cases/<case_id:int>/follow-ups")
@staff_contract(response=s.HardshipCaseInfo, errors={403: ["out_of_scope"], 404: ["hardship_case_not_found"], 409: ["hardship_case_closed"], 422: ["next_due_required", "bad_due_date"]}, body=True, roles=True, write=True, path_ids=["case_id"])
@api(summary="Record a follow-up (what was done, its effect, the next due date) or close the case", tag="confirmation hardship", json=FollowUpBody)
@staff_required(Role.STATION, Role.CENTRE, Role.BUREAU, write=True)
async def hardship_follow_up(request: Request, case_id: int, body: FollowUpBody) -> HTTPResponse:
    case = await hardship.follow_up(scope=request.ctx.scope, actor=request.ctx.actor, case_id=case_id, **body.model_dump())
    return json(hardship.case_json(case, follow_up_rows=await hardship.follow_ups(case_id=case.id)), ensure_ascii=False)

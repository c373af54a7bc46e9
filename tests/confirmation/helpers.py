"""Shared set-up for confirmation tests: a campaign running today and real face frames."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import cv2
import numpy as np
from sanic import Sanic

from face import Challenge
from face.decode import encode_jpeg
from face.samples import id_card_photo, load_sample
from face.synthetic import hand_jitter, render_action
from models.confirmation import Campaign
from models.org import OrgKind, OrgUnit
from models.staff import Role
from server.actors import SYSTEM
from server.auth.scope import Scope
from server.confirmation import campaigns


def dates_around(today: date) -> campaigns.CampaignDates:
    return campaigns.CampaignDates(
        reference_date=today - timedelta(days=5),
        publicity_start=today - timedelta(days=10),
        publicity_end=today - timedelta(days=6),
        implementation_start=today - timedelta(days=5),
        implementation_end=today + timedelta(days=30),
        notice_start=today + timedelta(days=31),
        notice_end=today + timedelta(days=90),
        summary_start=today + timedelta(days=40),
        summary_end=today + timedelta(days=45),
    )


async def running_campaign(district: OrgUnit, *, today: date | None = None) -> Campaign:
    scope = Scope(role=Role.ADMIN, org_unit_id=district.id, org_kind=OrgKind.DISTRICT)
    campaign = await campaigns.create_campaign(scope=scope, actor=SYSTEM, year=(today or date.today()).year, name=None, district_id=district.id, dates=dates_around(today or date.today()), categories=None)
    await campaigns.open_campaign(scope=scope, actor=SYSTEM, campaign_id=campaign.id)
    return campaign


@dataclass
class FaceKit:
    id_photo: bytes
    frame: np.ndarray
    points: np.ndarray
    other_frame: np.ndarray
    other_points: np.ndarray

    def frames_for(self, actions: list[str], *, seed: int = 5, other: bool = False) -> list[bytes]:
        rng = np.random.default_rng(seed)
        base, points = (self.other_frame, self.other_points) if other else (self.frame, self.points)
        sequence = [None, *Challenge.from_list(actions).actions]
        return [encode_jpeg(hand_jitter(render_action(base, points, a), rng), 90) for a in sequence]


_kit: FaceKit | None = None


def face_kit(app: Sanic) -> FaceKit:
    """Yao Ming (shipped with the model wheel) as the beneficiary; a face from gdp.jpg as someone else."""
    global _kit
    if _kit is None:
        engine = app.ctx.face
        image = load_sample("yaoming.jpg")
        frame = cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
        analysis = engine.analyzer.analyze_frame(frame)
        bbox = engine.analyzer.detector.predict(image)[0].bbox
        other = load_sample("gdp.jpg")
        faces = sorted(engine.analyzer.detector.predict(other), key=lambda f: -f.width)
        x1, y1, x2, y2 = faces[0].bbox
        w, h = x2 - x1, y2 - y1
        crop = other[int(max(0, y1 - 0.5 * h)) : int(y2 + 0.4 * h), int(max(0, x1 - 0.4 * w)) : int(x2 + 0.4 * w)]
        other_frame = cv2.resize(crop, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
        other_analysis = engine.analyzer.analyze_frame(other_frame)
        _kit = FaceKit(
            id_photo=encode_jpeg(id_card_photo(image, bbox), 30),
            frame=frame,
            points=analysis.face.landmarks,
            other_frame=other_frame,
            other_points=other_analysis.face.landmarks,
        )
    return _kit



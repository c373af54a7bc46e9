"""首年开展年度确认工作…工作人员应与优抚对象见面，做到确认对象全覆盖.

A county's first campaign (no campaign of an earlier year) requires staff to meet everyone in
person — at home or at the station. A self-service confirmation still confirms the person, but the
campaign is not complete until they have also been met (``quotas.face_to_face``); the visit list
(reports.quota_view) puts them on it. People living away long-term are exempt, as the seed allows
them to confirm online.
"""

from __future__ import annotations

from models.confirmation import Campaign


async def is_first_year(campaign: Campaign) -> bool:
    return not await Campaign.filter(district_id=campaign.district_id, year__lt=campaign.year).exists()

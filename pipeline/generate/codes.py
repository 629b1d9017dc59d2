"""Code values of the contract and domain.md, with the mixes the generator draws them from.
Lists whose order the weights below do not depend on come from schemas.codes, declared once."""
from __future__ import annotations

from schemas.codes import (  # noqa: F401  (re-exported for the generator's modules)
    AMBULANCE_ARRIVAL_MODES as AMBULANCE_MODES,
    APPT_STATUS,
    ED_ATTENDANCE_CATEGORY as ED_CATEGORY,
    ED_DEPARTMENT_TYPE as ED_DEPARTMENT,
    ELECTIVE_METHODS,
    HCP_TYPE,
    MATERNITY_METHODS,
    SOCIAL_CARE_EVENT_TYPE as SC_EVENT_TYPES,
)

APPT_MODE = ["Face-to-Face", "Telephone", "Video Conference/Online", "Home Visit", "Unknown"]
HCP_WEIGHTS = [45.0, 53.0, 2.0]
# appt_mode mix by age group (0-17, 18-64, 65-79, 80+); overall about 63.5/25.2/7.8/1.2/2.3
MODE_AGE_EDGES = [18, 65, 80]
MODE_BY_AGE = [
    [66.0, 22.0, 9.5, 0.1, 2.4],
    [62.0, 26.5, 9.2, 0.1, 2.2],
    [66.0, 25.0, 5.0, 1.6, 2.4],
    [63.0, 22.0, 2.0, 10.0, 3.0],
]

ED_DEPARTMENT_WEIGHTS = [75.0, 3.0, 13.0, 4.0, 5.0]
# among counted attendances (1-3); category 4 rows come from their own count
ED_COUNTED_CATEGORY_WEIGHTS = [92.6, 5.0, 2.4]
AMBULANCE_WEIGHTS = [90.0, 3.0, 5.5, 1.0, 0.5]
OTHER_MODES = ["1048071000000103", "1048061000000105", "1048001000000106", "1047991000000102"]
OTHER_WEIGHTS = [81.0, 14.5, 4.0, 0.5]
# arrivals by hour of day (00..23): quiet at night, peak late morning, long evening shoulder
ED_HOUR_WEIGHTS = [2.4, 1.9, 1.5, 1.2, 1.0, 1.0, 1.3, 2.2, 4.0, 5.8, 6.6, 6.6, 6.3, 6.0, 5.8, 5.6,
                   5.5, 5.5, 5.4, 5.0, 4.5, 3.9, 3.3, 2.8]

# Emergency admission methods (2C only for babies). Weights of 21 follow params.via_ed_share.
EMERGENCY_METHODS = ["21", "22", "23", "24", "25", "2A", "2B", "2D", "28", "2C"]
EMERGENCY_OTHER_WEIGHTS = [0.0, 12.0, 1.0, 4.0, 1.5, 3.0, 2.0, 3.0, 1.5, 0.0]
ELECTIVE_WEIGHTS = [60.0, 25.0, 15.0]
MATERNITY_WEIGHTS = [70.0, 30.0]
OTHER_METHODS = ["81", "98", "99"]
OTHER_WEIGHTS_ADM = [80.0, 10.0, 10.0]

# Discharge destinations: 19 home, 29 temporary residence, 51 other NHS hospital, 54 NHS care home,
# 65 local authority residential, 85 non-NHS care home, 79 died, 98 not applicable (not finished).
DISCHARGE_DEST = ["19", "29", "51", "54", "65", "85", "79", "98"]
DISCHARGE_YOUNG = [97.2, 1.0, 1.7, 0.0, 0.0, 0.1, 0.0, 0.0]
DISCHARGE_OLD = [90.5, 0.5, 2.0, 0.8, 1.4, 4.8, 0.0, 0.0]
PROVIDERS = ["R0D", "RBD", "RHM", "RNZ", "RDY", "RHU", "RA7"]
PROVIDER_WEIGHTS = [82.0, 6.0, 4.0, 3.0, 2.0, 2.0, 1.0]

SC_ROUTES = [
    "Planned Entry (Transition)", "Discharge from Hospital", "Diversion from Hospital Services",
    "Community / Other route", "Prison", "Self-Funder", "Discharge from Reablement", "Transfer from Other LA",
]
SC_ROUTE_WEIGHTS = [2.0, 22.0, 4.0, 62.0, 0.2, 3.8, 4.0, 2.0]
SC_SERVICES = [
    "Short Term Support: ST-Max", "Short Term Support: Ongoing Low Level",
    "Short Term Support: Other Short Term", "Long Term Support: Nursing Care",
    "Long Term Support: Residential Care", "Long Term Support: Community", "Long Term Support: Prison",
]
SC_REVIEW_REASONS = [
    "Planned", "Unplanned - Hospital (Planned and unplanned episodes)", "Unplanned - Carer related",
    "Unplanned - Safeguarding concern", "Unplanned - Other Reason", "Unplanned - Provider Failure",
    "Unplanned - Change in Commissioning arrangements",
]
SC_UNPLANNED_WEIGHTS = [40.0, 15.0, 15.0, 25.0, 2.0, 3.0]
SC_REQUEST_OUTCOMES = [
    "Progress to Assessment", "Progress to Reablement/ST-Max", "NFA - Information & Advice / Signposting only",
    "NFA - Universal Services / Signposted to other services", "NFA - Support declined", "NFA - Self-funded client",
]
SC_ASSESSMENT_OUTCOMES = [
    "Progress to Support Planning / Services", "NFA - No services provided - Universal Services / Signposting",
    "NFA - Support declined", "NFA - No services provided - no identified needs",
]
SC_SERVICE_OUTCOMES = [
    "Service ended as planned", "Progress to Long Term Support", "NFA - Deceased", "NFA - Moved to another LA",
    "Admitted to hospital",
]
SC_REVIEW_OUTCOMES = [
    "No change in package", "Change in package - increase", "Change in package - decrease",
    "Long Term Support ended", "Move to residential / nursing care",
]

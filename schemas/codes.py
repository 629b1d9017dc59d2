"""Code lists of the contract and domain.md, typed once and shared by rules, generator and tests."""

APPT_STATUS = ["Attended", "DNA", "Unknown"]
APPT_MODE = ["Face-to-Face", "Telephone", "Home Visit", "Video Conference/Online", "Unknown"]
HCP_TYPE = ["GP", "Other Practice staff", "Unknown"]

ED_DEPARTMENT_TYPE = ["01", "02", "03", "04", "05"]
# 1 unplanned first, 2 unplanned follow-up here, 3 unplanned follow-up elsewhere, 4 planned follow-up
ED_ATTENDANCE_CATEGORY = ["1", "2", "3", "4"]
ED_COUNTED_CATEGORIES = ["1", "2", "3"]
AMBULANCE_ARRIVAL_MODES = [
    "1048031000000100",  # emergency road ambulance
    "1048041000000109",  # emergency road ambulance with medical escort
    "1048021000000102",  # non-emergency road ambulance
    "1048051000000107",  # helicopter air ambulance
    "1048081000000101",  # air ambulance repatriation
]

ELECTIVE_METHODS = ["11", "12", "13"]
# Emergency admission: admission_method starting with 2 (there is no 26 or 27).
EMERGENCY_METHODS = ["21", "22", "23", "24", "25", "2A", "2B", "2C", "2D", "28"]
MATERNITY_METHODS = ["31", "32"]
OTHER_METHODS = ["81", "82", "83", "98", "99"]
ADMISSION_METHOD = ELECTIVE_METHODS + EMERGENCY_METHODS + MATERNITY_METHODS + OTHER_METHODS

SOCIAL_CARE_EVENT_TYPE = ["Request", "Assessment", "Service", "Review"]

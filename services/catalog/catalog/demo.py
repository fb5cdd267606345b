"""Demo state services of the Baikonur agencies, for `make run` (`python -m catalog seed-demo`).

Terms and fees follow the shape of Kazakhstan's state-service standards: fees are
state duties expressed in monthly calculation indices (MRP, 4 325 KZT in 2026),
terms in working days. The texts are demo material, not legal advice.
"""

# Kazakh and Russian texts are Cyrillic on purpose, look-alike letters included.
# ruff: noqa: RUF001

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from catalog.formschema import DIALECT

MRP = Decimal(4325)


def agency_id(code: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:baikonur-portal:agency:{code}"))


def t(kk: str, ru: str, en: str) -> dict[str, str]:
    return {"kk": kk, "ru": ru, "en": en}


def field(title: dict[str, str], **schema: Any) -> dict[str, Any]:
    return {**schema, "title": title["en"], "x-title": title}


def form(required: list[str], **properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": DIALECT,
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }


IIN = {"type": "string", "pattern": "^[0-9]{12}$"}
DATE = {"type": "string", "format": "date"}
PHONE = {"type": "string", "pattern": r"^\+7[0-9]{10}$"}
TEXT = {"type": "string", "minLength": 1, "maxLength": 500}

APPLICANT_IIN = field(t("Өтініш берушінің ЖСН", "ИИН заявителя", "Applicant's IIN"), **IIN)
CONTACT_PHONE = field(t("Байланыс телефоны", "Контактный телефон", "Contact phone"), **PHONE)
ADDRESS = field(
    t("Мекенжай", "Адрес", "Address"),
    type="object",
    required=["street", "building"],
    properties={
        "street": field(t("Көше", "Улица", "Street"), **TEXT),
        "building": field(t("Үй", "Дом", "Building"), type="string", maxLength=20),
        "apartment": field(t("Пәтер", "Квартира", "Apartment"), type="string", maxLength=20),
    },
    additionalProperties=False,
)


def doc(code: str, title: dict[str, str]) -> dict[str, Any]:
    return {"code": code, "name": title}


def ground(code: str, text: dict[str, str]) -> dict[str, Any]:
    return {"code": code, "text": text}


ID_DOC = doc(
    "identity-document",
    t("Жеке басын куәландыратын құжат", "Документ, удостоверяющий личность", "Identity document"),
)
PHOTO = doc("photo", t("Фотосурет", "Фотография", "Photograph"))
FALSE_DOCS = ground(
    "false-documents",
    t(
        "Ұсынылған құжаттардың немесе деректердің дәйексіздігі",
        "Недостоверность представленных документов или данных",
        "The documents or data submitted are not authentic",
    ),
)
INCOMPLETE = ground(
    "incomplete-documents",
    t(
        "Құжаттар топтамасы толық емес",
        "Неполный пакет документов",
        "The set of documents is incomplete",
    ),
)
NOT_ELIGIBLE = ground(
    "not-eligible",
    t(
        "Өтініш беруші талаптарға сәйкес келмейді",
        "Несоответствие заявителя установленным требованиям",
        "The applicant does not meet the requirements",
    ),
)
COURT_BAN = ground(
    "court-decision",
    t(
        "Соттың заңды күшіне енген шешімі бар",
        "Наличие вступившего в силу решения суда",
        "A court decision in force prevents it",
    ),
)


def _service(
    code: str,
    agency: str,
    name: dict[str, str],
    description: dict[str, str],
    *,
    term: int,
    fee: Decimal,
    result: dict[str, str],
    documents: list[dict[str, Any]],
    grounds: list[dict[str, Any]],
    channels: list[str],
    form_schema: dict[str, Any],
) -> dict[str, Any]:
    return {
        "code": code,
        "agency_code": agency,
        "name": name,
        "description": description,
        "agency_id": agency_id(agency),
        "term_working_days": term,
        "fee": {"amount": str(fee), "currency": "KZT"},
        "result": result,
        "required_documents": documents,
        "refusal_grounds": grounds,
        "channels": channels,
        "form_schema": form_schema,
    }


DEMO_SERVICES: list[dict[str, Any]] = [
    _service(
        "residence-registration",
        "BKR-MIGRATION",
        t(
            "Тұрғылықты жері бойынша тіркеу",
            "Регистрация по месту жительства",
            "Registration of residence",
        ),
        t(
            "Байқоңыр қаласында тұрақты тұрғылықты жері бойынша тіркеу",
            "Регистрация граждан по постоянному месту жительства в городе Байконыр",
            "Registration of citizens at their permanent residence in Baikonur",
        ),
        term=1,
        fee=Decimal(0),
        result=t("Тіркеу туралы мәлімет", "Сведения о регистрации", "Registration record"),
        documents=[
            ID_DOC,
            doc(
                "owner-consent",
                t(
                    "Тұрғын үй иесінің келісімі",
                    "Согласие собственника жилья",
                    "Consent of the home owner",
                ),
            ),
        ],
        grounds=[
            FALSE_DOCS,
            ground(
                "no-owner-consent",
                t(
                    "Тұрғын үй иесінің келісімі жоқ",
                    "Отсутствие согласия собственника жилья",
                    "The home owner has not consented",
                ),
            ),
        ],
        channels=["portal", "psc"],
        form_schema=form(
            ["applicant_iin", "owner_iin", "address", "move_in_date"],
            applicant_iin=APPLICANT_IIN,
            owner_iin=field(
                t("Тұрғын үй иесінің ЖСН", "ИИН собственника жилья", "Home owner's IIN"), **IIN
            ),
            address=ADDRESS,
            move_in_date=field(t("Көшіп келген күні", "Дата заселения", "Move-in date"), **DATE),
            phone=CONTACT_PHONE,
        ),
    ),
    _service(
        "identity-card",
        "BKR-MIGRATION",
        t("Жеке куәлік беру", "Выдача удостоверения личности", "Issue of an identity card"),
        t(
            "Қазақстан Республикасы азаматының жеке куәлігін алғаш рет беру немесе ауыстыру",
            "Первичная выдача или замена удостоверения личности гражданина Республики Казахстан",
            "First issue or replacement of a citizen's identity card",
        ),
        term=10,
        fee=MRP * Decimal("0.2"),
        result=t("Жеке куәлік", "Удостоверение личности", "Identity card"),
        documents=[
            PHOTO,
            doc(
                "duty-receipt",
                t(
                    "Мемлекеттік баждың төленгені туралы түбіртек",
                    "Квитанция об оплате госпошлины",
                    "State duty receipt",
                ),
            ),
        ],
        grounds=[FALSE_DOCS, INCOMPLETE],
        channels=["portal", "psc"],
        form_schema=form(
            ["applicant_iin", "reason"],
            applicant_iin=APPLICANT_IIN,
            reason=field(
                t("Беру себебі", "Причина выдачи", "Reason"),
                type="string",
                enum=["first-issue", "expired", "lost", "damaged", "name-change"],
            ),
            phone=CONTACT_PHONE,
        ),
    ),
    _service(
        "passport",
        "BKR-MIGRATION",
        t("Паспорт беру", "Выдача паспорта гражданина", "Issue of a citizen's passport"),
        t(
            "Қазақстан Республикасы азаматының паспортын беру",
            "Выдача паспорта гражданина Республики Казахстан",
            "Issue of a passport of a citizen of Kazakhstan",
        ),
        term=15,
        fee=MRP * 4,
        result=t("Паспорт", "Паспорт", "Passport"),
        documents=[ID_DOC, PHOTO],
        grounds=[FALSE_DOCS, COURT_BAN],
        channels=["portal", "psc"],
        form_schema=form(
            ["applicant_iin", "urgent"],
            applicant_iin=APPLICANT_IIN,
            urgent=field(t("Шұғыл", "Срочно", "Urgent"), type="boolean"),
            phone=CONTACT_PHONE,
        ),
    ),
    _service(
        "birth-registration",
        "BKR-CIVREG",
        t(
            "Баланың тууын тіркеу",
            "Регистрация рождения ребенка",
            "Registration of a child's birth",
        ),
        t(
            "Баланың тууын мемлекеттік тіркеу және туу туралы куәлік беру",
            "Государственная регистрация рождения ребенка и выдача свидетельства о рождении",
            "State registration of a birth and issue of the birth certificate",
        ),
        term=1,
        fee=Decimal(0),
        result=t("Туу туралы куәлік", "Свидетельство о рождении", "Birth certificate"),
        documents=[
            doc(
                "medical-birth-record",
                t(
                    "Туу туралы медициналық куәлік",
                    "Медицинское свидетельство о рождении",
                    "Medical birth record",
                ),
            )
        ],
        grounds=[
            FALSE_DOCS,
            ground(
                "late-application",
                t(
                    "Өтініш мерзімі өткен",
                    "Пропущен срок подачи заявления",
                    "The application is late",
                ),
            ),
        ],
        channels=["portal", "psc", "agency"],
        form_schema=form(
            ["mother_iin", "child_name", "child_birth_date", "child_sex"],
            mother_iin=field(t("Ананың ЖСН", "ИИН матери", "Mother's IIN"), **IIN),
            father_iin=field(t("Әкенің ЖСН", "ИИН отца", "Father's IIN"), **IIN),
            child_name=field(t("Баланың аты", "Имя ребенка", "Child's name"), **TEXT),
            child_birth_date=field(t("Туған күні", "Дата рождения", "Date of birth"), **DATE),
            child_sex=field(t("Жынысы", "Пол", "Sex"), type="string", enum=["female", "male"]),
        ),
    ),
    _service(
        "marriage-registration",
        "BKR-CIVREG",
        t("Некені тіркеу", "Регистрация заключения брака", "Registration of marriage"),
        t(
            "Некені (ерлі-зайыптылықты) мемлекеттік тіркеу",
            "Государственная регистрация заключения брака (супружества)",
            "State registration of a marriage",
        ),
        term=22,
        fee=MRP * Decimal("0.5"),
        result=t("Неке туралы куәлік", "Свидетельство о заключении брака", "Marriage certificate"),
        documents=[ID_DOC],
        grounds=[
            ground(
                "existing-marriage",
                t(
                    "Тіркелген неке бар",
                    "Наличие зарегистрированного брака",
                    "One of the parties is already married",
                ),
            ),
            NOT_ELIGIBLE,
        ],
        channels=["portal", "agency"],
        form_schema=form(
            ["bride_iin", "groom_iin", "ceremony_date"],
            bride_iin=field(t("Қалыңдықтың ЖСН", "ИИН невесты", "Bride's IIN"), **IIN),
            groom_iin=field(t("Күйеу жігіттің ЖСН", "ИИН жениха", "Groom's IIN"), **IIN),
            ceremony_date=field(t("Тіркеу күні", "Дата регистрации", "Ceremony date"), **DATE),
            solemn=field(
                t("Салтанатты рәсім", "Торжественная церемония", "Solemn ceremony"), type="boolean"
            ),
        ),
    ),
    _service(
        "death-registration",
        "BKR-CIVREG",
        t("Қайтыс болуды тіркеу", "Регистрация смерти", "Registration of death"),
        t(
            "Қайтыс болуды мемлекеттік тіркеу және куәлік беру",
            "Государственная регистрация смерти и выдача свидетельства",
            "State registration of a death and issue of the certificate",
        ),
        term=1,
        fee=Decimal(0),
        result=t("Қайтыс болу туралы куәлік", "Свидетельство о смерти", "Death certificate"),
        documents=[
            doc(
                "medical-death-record",
                t(
                    "Қайтыс болу туралы медициналық куәлік",
                    "Медицинское свидетельство о смерти",
                    "Medical death record",
                ),
            )
        ],
        grounds=[FALSE_DOCS],
        channels=["portal", "psc", "agency"],
        form_schema=form(
            ["deceased_iin", "date_of_death"],
            deceased_iin=field(t("Марқұмның ЖСН", "ИИН умершего", "Deceased's IIN"), **IIN),
            date_of_death=field(t("Қайтыс болған күні", "Дата смерти", "Date of death"), **DATE),
            applicant_iin=APPLICANT_IIN,
        ),
    ),
    _service(
        "no-criminal-record-certificate",
        "BKR-POLICE",
        t(
            "Соттылығы жоқ екені туралы анықтама",
            "Справка об отсутствии судимости",
            "Certificate of no criminal record",
        ),
        t(
            "Сотталғандығының бар немесе жоқ екені туралы анықтама беру",
            "Выдача справки о наличии либо отсутствии судимости",
            "Issue of a certificate stating whether the person has a criminal record",
        ),
        term=5,
        fee=Decimal(0),
        result=t("Анықтама", "Справка", "Certificate"),
        documents=[ID_DOC],
        grounds=[FALSE_DOCS],
        channels=["portal", "psc"],
        form_schema=form(
            ["applicant_iin", "purpose"],
            applicant_iin=APPLICANT_IIN,
            purpose=field(
                t("Мақсаты", "Цель", "Purpose"),
                type="string",
                enum=["employment", "visa", "adoption", "other"],
            ),
        ),
    ),
    _service(
        "address-certificate",
        "BKR-PSC",
        t("Мекенжай анықтамасы", "Адресная справка", "Address certificate"),
        t(
            "Тұрғылықты жері туралы анықтама беру",
            "Выдача справки о месте жительства",
            "Issue of a certificate of the registered address",
        ),
        term=0,
        fee=Decimal(0),
        result=t("Мекенжай анықтамасы", "Адресная справка", "Address certificate"),
        documents=[ID_DOC],
        grounds=[NOT_ELIGIBLE],
        channels=["portal", "psc"],
        form_schema=form(["applicant_iin"], applicant_iin=APPLICANT_IIN),
    ),
    _service(
        "land-plot",
        "BKR-LAND",
        t("Жер учаскесін беру", "Предоставление земельного участка", "Allocation of a land plot"),
        t(
            "Мемлекеттік меншіктегі жер учаскесіне құқық беру",
            "Предоставление права на земельный участок из государственной собственности",
            "Grant of a right to a state-owned land plot",
        ),
        term=20,
        fee=Decimal(0),
        result=t(
            "Жер учаскесін беру туралы шешім",
            "Решение о предоставлении земельного участка",
            "Decision to grant the land plot",
        ),
        documents=[
            ID_DOC,
            doc("site-plan", t("Жер учаскесінің схемасы", "Схема земельного участка", "Site plan")),
        ],
        grounds=[
            NOT_ELIGIBLE,
            ground(
                "plot-unavailable",
                t(
                    "Жер учаскесі бос емес",
                    "Земельный участок не свободен",
                    "The plot is not available",
                ),
            ),
        ],
        channels=["portal", "psc"],
        form_schema=form(
            ["applicant_iin", "purpose", "area_hectares"],
            applicant_iin=APPLICANT_IIN,
            purpose=field(
                t("Нысаналы мақсаты", "Целевое назначение", "Intended use"),
                type="string",
                enum=["individual-housing", "gardening", "commercial"],
            ),
            area_hectares=field(
                t("Ауданы, га", "Площадь, га", "Area, ha"),
                type="number",
                exclusiveMinimum=0,
                maximum=10,
            ),
            cadastral_number=field(
                t("Кадастрлық нөмірі", "Кадастровый номер", "Cadastral number"),
                type="string",
                pattern=r"^[0-9]{2}:[0-9]{3}:[0-9]{3}:[0-9]{1,6}$",
            ),
        ),
    ),
    _service(
        "social-benefit",
        "BKR-SOCIAL",
        t(
            "Атаулы әлеуметтік көмек тағайындау",
            "Назначение адресной социальной помощи",
            "Targeted social assistance",
        ),
        t(
            "Табысы төмен отбасыларға мемлекеттік атаулы әлеуметтік көмек тағайындау",
            "Назначение государственной адресной социальной помощи малообеспеченным семьям",
            "Targeted social assistance for low-income families",
        ),
        term=7,
        fee=Decimal(0),
        result=t(
            "Көмек тағайындау туралы хабарлама",
            "Уведомление о назначении помощи",
            "Notice of assistance granted",
        ),
        documents=[
            ID_DOC,
            doc(
                "income-statement",
                t("Табыс туралы мәліметтер", "Сведения о доходах", "Income statement"),
            ),
        ],
        grounds=[NOT_ELIGIBLE, FALSE_DOCS],
        channels=["portal", "psc", "agency"],
        form_schema=form(
            ["applicant_iin", "family_members", "monthly_income"],
            applicant_iin=APPLICANT_IIN,
            family_members=field(
                t("Отбасы мүшелері", "Члены семьи", "Family members"),
                type="array",
                maxItems=15,
                items={
                    "type": "object",
                    "required": ["iin", "relation"],
                    "properties": {
                        "iin": field(t("ЖСН", "ИИН", "IIN"), **IIN),
                        "relation": field(
                            t("Туыстығы", "Степень родства", "Relation"),
                            type="string",
                            enum=["spouse", "child", "parent", "other"],
                        ),
                    },
                },
            ),
            monthly_income=field(
                t("Айлық табыс, ₸", "Ежемесячный доход, ₸", "Monthly income, KZT"),
                type="number",
                minimum=0,
            ),
        ),
    ),
    _service(
        "tax-debt-certificate",
        "BKR-REVENUE",
        t(
            "Салық берешегі жоқ екені туралы мәлімет",
            "Сведения об отсутствии налоговой задолженности",
            "Certificate of no tax debt",
        ),
        t(
            "Салық берешегінің бар-жоғы туралы мәліметтер беру",
            "Выдача сведений об отсутствии (наличии) налоговой задолженности",
            "Statement of whether the taxpayer has tax debts",
        ),
        term=1,
        fee=Decimal(0),
        result=t("Мәлімет", "Сведения", "Statement"),
        documents=[],
        grounds=[NOT_ELIGIBLE],
        channels=["portal"],
        form_schema=form(
            ["taxpayer_iin"],
            taxpayer_iin=field(
                t("Салық төлеушінің ЖСН/БСН", "ИИН/БИН налогоплательщика", "Taxpayer's IIN/BIN"),
                **IIN,
            ),
            as_of=field(t("Қай күнгі жағдай бойынша", "По состоянию на", "As of"), **DATE),
        ),
    ),
    _service(
        "apostille",
        "BKR-JUSTICE",
        t("Апостиль қою", "Проставление апостиля", "Apostille"),
        t(
            "Ресми құжаттарға апостиль қою",
            "Проставление апостиля на официальных документах",
            "Apostille on official documents",
        ),
        term=5,
        fee=MRP * Decimal("0.5"),
        result=t("Апостильденген құжат", "Документ с апостилем", "Apostilled document"),
        documents=[
            doc(
                "original-document",
                t("Құжаттың түпнұсқасы", "Оригинал документа", "The original document"),
            )
        ],
        grounds=[FALSE_DOCS, NOT_ELIGIBLE],
        channels=["portal", "psc"],
        form_schema=form(
            ["applicant_iin", "document_kind", "country"],
            applicant_iin=APPLICANT_IIN,
            document_kind=field(
                t("Құжат түрі", "Вид документа", "Kind of document"),
                type="string",
                enum=["civil-status", "education", "court", "notarial"],
            ),
            country=field(
                t("Ұсынылатын ел", "Страна представления", "Country of use"),
                type="string",
                pattern="^[A-Z]{2}$",
            ),
        ),
    ),
    _service(
        "school-enrollment",
        "BKR-EDUCATION",
        t("Мектепке қабылдау", "Прием в школу", "School enrollment"),
        t(
            "Бастауыш, негізгі орта, жалпы орта білім беру ұйымдарына қабылдау",
            "Прием документов и зачисление в организации начального, основного среднего и общего среднего образования",  # noqa: E501
            "Enrollment in a primary or secondary school",
        ),
        term=1,
        fee=Decimal(0),
        result=t("Қабылдау туралы хабарлама", "Уведомление о зачислении", "Notice of enrollment"),
        documents=[
            doc(
                "health-record",
                t("Денсаулық паспорты", "Паспорт здоровья ребенка", "Child's health record"),
            )
        ],
        grounds=[
            NOT_ELIGIBLE,
            ground(
                "no-places", t("Бос орын жоқ", "Отсутствие свободных мест", "No places are left")
            ),
        ],
        channels=["portal", "agency"],
        form_schema=form(
            ["parent_iin", "child_iin", "grade", "school_number"],
            parent_iin=field(t("Ата-ананың ЖСН", "ИИН родителя", "Parent's IIN"), **IIN),
            child_iin=field(t("Баланың ЖСН", "ИИН ребенка", "Child's IIN"), **IIN),
            grade=field(t("Сынып", "Класс", "Grade"), type="integer", minimum=1, maximum=11),
            school_number=field(
                t("Мектеп нөмірі", "Номер школы", "School number"), type="integer", minimum=1
            ),
        ),
    ),
    _service(
        "architecture-planning-task",
        "BKR-ARCHITECTURE",
        t(
            "Сәулет-жоспарлау тапсырмасын беру",
            "Выдача архитектурно-планировочного задания",
            "Architectural planning task",
        ),
        t(
            "Жобалауға арналған сәулет-жоспарлау тапсырмасын беру",
            "Выдача архитектурно-планировочного задания на проектирование",
            "Issue of the architectural planning task for a design",
        ),
        term=7,
        fee=Decimal(0),
        result=t(
            "Сәулет-жоспарлау тапсырмасы",
            "Архитектурно-планировочное задание",
            "Architectural planning task",
        ),
        documents=[
            doc(
                "land-title",
                t(
                    "Жерге құқық белгілейтін құжат",
                    "Правоустанавливающий документ на землю",
                    "Land title",
                ),
            )
        ],
        grounds=[NOT_ELIGIBLE, FALSE_DOCS],
        channels=["portal"],
        form_schema=form(
            ["applicant_iin", "cadastral_number", "object_kind"],
            applicant_iin=APPLICANT_IIN,
            cadastral_number=field(
                t("Кадастрлық нөмірі", "Кадастровый номер", "Cadastral number"),
                type="string",
                pattern=r"^[0-9]{2}:[0-9]{3}:[0-9]{3}:[0-9]{1,6}$",
            ),
            object_kind=field(
                t("Объект түрі", "Вид объекта", "Kind of building"),
                type="string",
                enum=["house", "garage", "shop", "other"],
            ),
        ),
    ),
    _service(
        "clinic-attachment",
        "BKR-HEALTH",
        t("Емханаға тіркелу", "Прикрепление к поликлинике", "Registration with a clinic"),
        t(
            "Медициналық-санитариялық алғашқы көмек көрсететін ұйымға тіркелу",
            "Прикрепление к организации первичной медико-санитарной помощи",
            "Registration with a primary health-care organisation",
        ),
        term=1,
        fee=Decimal(0),
        result=t(
            "Тіркелу туралы хабарлама", "Уведомление о прикреплении", "Notice of registration"
        ),
        documents=[ID_DOC],
        grounds=[NOT_ELIGIBLE],
        channels=["portal", "agency"],
        form_schema=form(
            ["applicant_iin", "clinic"],
            applicant_iin=APPLICANT_IIN,
            clinic=field(
                t("Емхана", "Поликлиника", "Clinic"),
                type="string",
                enum=["city-clinic-1", "city-clinic-2", "children-clinic"],
            ),
        ),
    ),
]

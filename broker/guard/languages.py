"""Injection signals in other languages (Spanish, French, German, Italian, Portuguese, Dutch,
Polish, Russian, Turkish, Chinese, Japanese, Korean): the override, the system prompt, "from now
on", "you are now" and "without restrictions".

They are matched by co-occurrence: a verb that means "ignore/forget" and a noun that means
"instructions/rules" within a short window, in either order (Turkish, Japanese and Korean put
the object first), so the many inflections and word orders need no grammar. Every window is
bounded, so scanning stays linear.
"""

from __future__ import annotations

from broker.guard.signals import Signal, near, signal, words

_IGNORE = words(
    r"ignor[ae]r?\b", r"ignorez\b", r"ignorier\w*", r"omit(?:ir|e|a)\b", r"non seguire\b", r"no sigas\b",
    r"ne (?:suis|suivez) plus\b", r"nicht mehr befolgen\b", r"не следуй\w*", "不要遵循", "不要遵守",
    r"ignoriere\w*", r"ignorieren\b", r"ignorate\b", r"negeer\b",
    r"zignoruj\b", r"ignoruj\b", r"ne (?:tiens|tenez) (?:plus |pas )?compte\b", r"haz caso omiso\b",
    r"no hagas caso\b", r"olvid[ae]r?\b", r"oublie[zr]?\b", r"vergiss\b", r"vergessen sie\b",
    r"dimentica(?:te)?\b", r"esque[çc]a\b", r"desconsider[ae]\b", r"vergeet\b", r"zapomnij\b", r"missachte\b",
    r"descarta\b", r"игнориру\w*", r"проигнориру\w*", r"забудь\w*", "忽略", "无视", "無視", "忘记", "忘掉",
    "忘れ", "忽视", "무시", "잊어", "yok say", "görmezden gel", r"unut\w*",
)  # fmt: skip
_IGNORE_GATE = (
    "ignor", "omit", "non seguire", "no sigas", "ne suis", "ne suivez", "nicht mehr", "не след", "不要遵",
    "olvid", "oubli", "vergiss", "vergessen", "dimentic", "esque", "desconsider", "vergeet",
    "zapomn", "missacht", "descart", "compte", "caso", "игнор", "проигнор", "забуд", "忽略", "无视", "無視",
    "忘", "忽视", "무시", "잊어", "yok say", "görmezden", "unut",
)  # fmt: skip
_RULES_ML = (
    r"\w*regeln\b|\w*richtlinien\b|sicherheits\w+|правил\w*|\binstrucci\w+|\bistruzion\w+|"
    r"\binstrucciones\b|\breglas\b|\bindicaciones\b|\bdirectrices\b|\bconsignes\b|\binstructions\b|"
    r"\brègles\b|\bdirectives\b|\banweisungen\b|\bregeln\b|\bvorgaben\b|\brichtlinien\b|\bistruzioni\b|"
    r"\bregole\b|\binstruções\b|\binstrucoes\b|\bregras\b|\binstructies\b|\bregels\b|\binstrukcje\b|"
    r"\bpolecenia\b|\bzasady\b|инструкци\w*|указани\w*|правила|指令|指示|规则|規則|命令|ルール|지시|명령|규칙|"
    r"talimat\w*|kural\w*"
)
_SYSTEM_PROMPT_ML = (
    r"prompt (?:système|systeme|de sistema|di sistema|do sistema|systemowy)|systemprompt|systeemprompt|"
    r"системн\w* (?:промпт|подсказк\w*|инструкци\w*)|系统提示|系統提示|システムプロンプト|시스템 프롬프트|"
    r"sistem istem\w*"
)
_FROM_NOW_ON = (
    r"从现在开始|从现在起|\ba partir de ahora\b|à partir de maintenant|\bab jetzt\b|\bvon nun an\b|"
    r"\bd'ora in poi\b|\ba partir de agora\b|с этого момента|\bотныне\b|\bbundan sonra\b|今後|지금부터|"  # noqa: RUF001
    r"mode développeur|entwicklermodus|modo (?:desarrollador|sviluppatore|de desenvolvedor)|"
    r"режим разработчика|"
    r"开发者模式"
)
_YOU_ARE_NOW = (
    r"\bdu bist (?:jetzt|nun|ab sofort)\b|\btu es maintenant\b|\bahora eres\b|\bora sei\b|"
    r"\bagora (?:você é|voce e|tu és)\b|\bteraz jesteś\b|теперь ты|你现在是|今からあなたは|지금부터 너는"
)
_UNBOUND_ML = (
    r"\bsin (?:ninguna |ningún |ningun )?(?:restricci\w+|reglas|límites|limites|filtros|censura)|"
    r"\bsans (?:aucune )?(?:restriction|règle|limite|filtre|censure)|\bohne (?:jegliche )?"
    r"(?:einschränkung\w*|regeln|grenzen|filter|zensur)|\bsenza (?:alcuna )?(?:restrizion\w+|regole|limiti|"
    r"filtri|censura)|\bsem (?:nenhuma )?(?:restriç\w+|restric\w+|regras|limites|filtros|censura)|"
    r"без (?:каких-либо )?(?:ограничени\w*|правил|фильтр\w*|цензур\w*)|没有(?:任何)?(?:限制|规则|过滤)|"
    r"制限(?:なし|のない)|제한(?: 없이| 없는)|\bbez (?:żadnych )?(?:ograniczeń|zasad|filtrów)|"
    r"k\u0131s\u0131tlama(?:s\u0131z| olmadan)"
)
_FROM_NOW_ON_GATE = (
    "从现在", "a partir de", "à partir de maintenant", "ab jetzt", "von nun an", "d'ora in poi",
    "с этого момента", "отныне", "bundan sonra", "今後", "지금부터", "mode développeur",  # noqa: RUF001
    "entwicklermodus", "modo ", "режим разработчика", "开发者模式",
)  # fmt: skip
_UNBOUND_GATE = (
    "sin ",
    "sans ",
    "ohne ",
    "senza ",
    "sem ",
    "без",
    "没有",
    "制限",
    "제한",
    "bez ",
    "k\u0131s\u0131tlama",
)
_AI_ML = r"\b(?:ia|ki|ai)\b|\bии\b|人工智能|\bai\b|インテリジェンス|\bsi\b"

OTHER_LANGUAGES: tuple[Signal, ...] = (
    near("override_ml", 0.8, _IGNORE, _RULES_ML, gate=_IGNORE_GATE),
    signal(
        "prompt_leak_ml",
        0.65,
        _SYSTEM_PROMPT_ML,
        gate=("prompt", "систем", "系统", "系統", "システム", "시스템", "sistem"),
    ),
    signal("from_now_on_ml", 0.3, _FROM_NOW_ON, gate=_FROM_NOW_ON_GATE),
    signal(
        "role_swap_ml",
        0.4,
        _YOU_ARE_NOW,
        gate=(
            "du bist",
            "tu es ",
            "ahora eres",
            "ora sei",
            "agora",
            "teraz",
            "теперь",
            "现在是",
            "今から",
            "지금부터",
        ),
    ),
    signal("no_limits_ml", 0.5, _UNBOUND_ML, gate=_UNBOUND_GATE),
    near("ai_unbound_ml", 0.65, _AI_ML, _UNBOUND_ML, 40, gate=_UNBOUND_GATE),
)

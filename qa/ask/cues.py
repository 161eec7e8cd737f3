"""Cues: the words of a question that say how it asks, not what about.

A question names a subject (经济增长, "grain output", 中欧班列) and frames it: what kind of answer
(多少, 目标, "how many"), when (去年, "in 2023"), where (浙江), and, in a chat, how it leans on the
turn before (那…呢, 它, "And …?", "what about"). What is left when the frame is taken away is
the subject; a question with neither subject nor anything else a report could answer (然后呢,
"Tell me more", "ok") has no content and is never answered with a sentence of a report.
"""
from __future__ import annotations

import re

# Chinese words that only frame a question: the kind of answer, the tense, politeness, fillers.
# 增长 / 目标 / 实际 are frames here: "实际增长了多少？" asks about growth of a subject it does not name.
FRAME_ZH = frozenset("""
目标 预期 预期目标 主要 主要预期目标 计划 打算 实际 实际上 最终 完成 实现 达到 达 增长 增速 增幅 增加 减少 下降
提高 提升 降低 变化 同比 比上年 上年 去年 今年 明年 本年 当年 年 年度 全年 多少 几 多 大 高 快 慢 情况 怎么 怎么样
怎样 如何 为什么 为何 什么 哪些 哪个 哪 谁 何时 是否 有没有 有无 数据 数字 指标 数值 水平 幅度 规模 总量 结果
成绩 表现 任务 要求 预计 定 定为 设定 提出 安排 部署 讲 讲了 说 说了 讲的 内容 主题 关于 方面 部分 一下 作 做 作的 做的 宣读 发表 哪家 哪份 得 地 题目 标题 名称 题为 叫 叫什么 产 产了 生产了 职务 会议 大会 会上 哪次 哪天 平均 年均
""".split())
# Chinese words that carry nothing a report could answer: greetings, thanks, assent, requests to go on.
FILLER_ZH = frozenset("""
然后 接着 继续 还有 另外 其他 其它 详细 具体 说说 讲讲 谈谈 展开 介绍 告诉 更多 再说 一遍 重复 再 又 你好 您好 嗨
哈喽 哈罗 喂 谢谢 感谢 多谢 谢了 好的 好 嗯 嗯嗯 哦 噢 喔 啊 呀 哈 哈哈 行 可以 明白 知道 了解 懂 对 对的 是的 不是
没有 意思 啥 啥意思 这份 本 本次 这次 请 帮 帮忙 我 你 您 我们 你们 问 问题 回答 答案 呢 吗 吧 能 能否 可否 知道吗 什么样 怎么回事
""".split())
# English words that frame a question or carry nothing; the rest name its subject.
FRAME_EN = frozenset("""
what whats which who whom whose when where why how much many did does do is are was were be been being will would
should could can may might has have had the a an of in on to for by with from at as about and or but than then so
this that these those it its they them their there here same also too again target targets goal goals aim aims
aimed aiming plan plans planned planning expect expected expects set sets actual actually real really final finally
figure figures number numbers value values level levels total amount rate percent percentage share growth grow grew
grown rise rose risen increase increased fall fell drop dropped change changed result results achieve achieved
reach reached hit come came fast big large high low year years yearly annual this last next previous current
part section about say says said mention mentioned report reports government work date day session meeting
congress newspaper source title heading called named create created creates add added adds run runs ran produce
produced build built spend spent invest invested make made makes target targeting reach stand stood record
recorded see saw go goes went cover covers covered mentions set aside expected happen happened stated state
states give gives given plans aim deliver delivers delivered present presented gave one two three four five six seven eight nine ten first second
third fourth fifth sixth seventh eighth ninth tenth then now
""".split())
FILLER_EN = frozenset("""
tell me more please thanks thank you hello hi hey ok okay sure yes no yeah yep nope continue go on keep going
explain elaborate expand detail details info information anything else something interesting good great cool nice
fine right wow hmm hm huh lol oh ah um uh well so what's whats mean meaning again repeat once say know see understand
got get let us we i question questions answer answers help lot lots much very bye goodbye cheers that's
thats all now
""".split())
# Offices a who question may ask about: the report must name the person in that office.
OFFICES = {"总理": ("premier", "prime minister"), "副总理": ("vice premier", "vice-premier"),
           "省长": ("governor",), "副省长": ("vice governor", "vice-governor", "deputy governor"),
           "市长": ("mayor",), "副市长": ("vice mayor", "deputy mayor"),
           "主席": ("chairman", "chairwoman", "chairperson", "president", "chair", "chairs", "chaired"),
           "书记": ("secretary", "party chief", "party boss"),
           "主任": ("director",), "部长": ("minister",), "委员长": ("chairman of the standing committee",),
           "区长": ("district head",), "县长": ("county head", "county magistrate"), "厅长": ("department head",),
           "秘书长": ("secretary-general", "secretary general")}
# "Which newspaper carried it", "来源是哪里": the cover's 来源 line answers.
SOURCE_QUESTION = re.compile(r"来源|稿源|出处|哪家报|哪份报|哪个报|什么报|报纸|报刊|媒体|刊登|刊载|刊发|登在|发表在|"
                             r"\bnewspaper|\bsource\b|\bpublish|\bcarried\b|\bprinted\b|\boutlet\b", re.I)


# "他的职务是？", "What was his position?": the office the cover gives the speaker.
POST_QUESTION = re.compile(r"职务|职位|官职|头衔|什么职|任什么|担任|\bposition\b|\bpost\b|\bjob title\b|\brole\b|"
                           r"\boffice (?:did|does|do|was|is|held)\b|\bwhat office\b", re.I)


# The body an office belongs to: "Who chairs the CPPCC?" is not answered by 习近平主席.
BODIES = {"政协": ("cppcc", "political consultative"), "人大": ("npc", "people's congress", "standing committee"),
          "委": ("party", "cpc", "communist"), "国务院": ("state council",), "政府": ("government",)}


def body_asked(text: str) -> str:
    """The body a question's office belongs to (政协, 人大, 委 for the Party's committees), or ""."""
    low = text.lower()
    for zh, en in BODIES.items():
        if zh in text or any(e in low for e in en):
            return zh
    return ""


def office_asked(text: str) -> str:
    """The office a question names ("国务院总理是谁？": 总理; "Who is the mayor of Changsha?": 市长), or ""."""
    low = text.lower()
    for zh, en in sorted(OFFICES.items(), key=lambda kv: -len(kv[0])):
        if zh in text or any(re.search(rf"\b{re.escape(e)}\b", low) for e in en):
            return zh
    return ""

"""Domain errors and the one map of their user-facing messages (Chinese, translated) and HTTP statuses.

app/views/errors.py turns a DomainError a view lets escape into a page or JSON with the entry's status.
%(hotline)s in a message is filled from config HOTLINE unless the error names one.
"""
from typing import NamedTuple

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l


class E(NamedTuple):
    """One entry of the map: the message and the HTTP status of the answer that carries it."""
    text: object  # a lazy string: rendered in the request's language
    status: int = 400


MESSAGES = {
    "sms_template_missing": E(_l("短信模板 %(code)s 不存在或未启用"), 500),
    "sms_template_params": E(_l("短信模板缺少参数:%(missing)s"), 500),
    "sms_backend_unknown": E(_l("未知的短信通道:%(backend)s"), 500),
    "seed_not_empty": E(_l("数据库中已有保单数据"), 409),
    "setting_unknown": E(_l("参数 %(key)s 不可在此修改")),
    "setting_malformed": E(_l("%(label)s的取值 %(value)s 无效:%(expected)s")),
    "setting_out_of_range": E(_l("%(label)s须在 %(min)s 至 %(max)s 之间")),
    "setting_admin_only": E(_l("%(label)s只有管理员可以修改"), 403),
    # uploads checked from their headers before decoding (services/identity.py, liveness.py)
    "image_too_large": E(_l("图片像素过多,请上传不超过%(limit)s万像素的照片(手机直接拍摄的照片即可)"), 413),
    "video_too_large": E(_l("视频分辨率过高(%(width)s×%(height)s),每帧不能超过%(limit)s万像素,请用手机重新录制"), 413),
    "video_too_long": E(_l("视频过长(%(seconds)s秒),请录制不超过%(limit)s秒的视频")),
    "video_bad_header": E(_l("无法读取视频的分辨率、帧率或时长,请用手机重新录制")),
    # e-revisit (app/services/revisit/, intake/, questionnaire.py)
    "task_bad_transition": E(_l("回访任务状态 %(status)s 不能执行 %(event)s"), 409),
    "policy_not_found": E(_l("保单 %(policy_no)s 不存在"), 404),
    "questionnaire_missing": E(_l("没有适用于该产品类型(%(kind)s)和缴费方式(%(mode)s)的回访问卷"), 409),
    "link_not_found": E(_l("链接无效,请核对短信中的链接"), 404),
    "link_expired": E(_l("电子化回访已过有效期,我们将安排电话回访,如有疑问请致电%(hotline)s"), 410),
    "face_required": E(_l("请先完成人脸识别"), 403),
    "task_not_yours": E(_l("该回访任务不存在或不属于您"), 404),
    "task_already_answered": E(_l("该保单的回访问卷已提交,请勿重复提交"), 409),
    "task_not_online": E(_l("该保单已不能在线回访,我们将安排电话回访,如有疑问请致电%(hotline)s"), 409),
    "answers_incomplete": E(_l("请回答全部问题,尚未回答:%(missing)s")),
    "answers_unknown_question": E(_l("提交的答案与问卷不符,请刷新页面后重新作答")),
    "answers_duplicate": E(_l("同一问题只能回答一次")),
    "answers_not_yes_no": E(_l("每个问题请选择“是”或“否”")),
    "questionnaire_no_questions": E(_l("问卷至少需要一个问题")),
    "questionnaire_empty_question": E(_l("第%(position)s题内容为空")),
    "questionnaire_bad_placeholder": E(_l("第%(position)s题含有未知的占位符:%(names)s")),
    "questionnaire_bad_kind": E(_l("未知的产品类型:%(kind)s")),
    "questionnaire_bad_mode": E(_l("未知的缴费方式:%(mode)s")),
    "questionnaire_not_found": E(_l("问卷 %(code)s 不存在"), 404),
    "questionnaire_conflict": E(_l("问卷 %(code)s 刚被他人修改,请刷新后重试"), 409),
    "intake_empty": E(_l("没有可导入的数据")),
    "intake_rejected": E(_l("数据有误,未导入任何保单:%(count)s 行有错误"), 422),
    "import_bad_file": E(_l("无法读取文件:请上传 UTF-8 CSV 或 Excel(.xlsx)文件")),
    "import_missing_columns": E(_l("文件缺少必需的列:%(columns)s")),
    "import_too_many_rows": E(_l("单个文件最多 %(limit)s 行")),
    # SMS gateway (app/services/sms.py, sms_aliyun.py, views/sms_report.py)
    "sms_aliyun_not_configured": E(_l("阿里云短信未配置:请设置 ALIYUN_ACCESS_KEY_ID 和 ALIYUN_ACCESS_KEY_SECRET"), 503),
    "sms_report_malformed": E(_l("短信回执格式错误(第 %(index)s 条):%(reason)s")),
    "sms_resend_not_failed": E(_l("只有发送失败的短信可以重新发送"), 409),
    "sms_resend_code": E(_l("验证码短信不能重新发送,请客户重新获取验证码"), 409),
    # face verification and video liveness (app/services/identity.py, liveness.py)
    "identity_empty_upload": E(_l("没有收到文件,请重新拍摄或选择后上传")),
    "identity_not_image": E(_l("上传的文件不是有效的图片,请重新拍摄")),
    "identity_not_video": E(_l("上传的文件不是可以播放的视频,请重新录制")),
    "identity_customer_unknown": E(_l("客户不存在"), 404),
    "identity_link_invalid": E(_l("回访链接无效"), 404),
    "identity_challenge_invalid": E(_l("验证数字无效,请刷新页面后重新录制")),
    "identity_evidence_missing": E(_l("上传的文件已丢失,请重新上传")),
    "face_no_face": E(_l("未检测到人脸")),
    "face_many_faces": E(_l("检测到多张人脸")),
    "face_mismatch": E(_l("人脸比对未通过,请本人重新拍摄")),
    "face_no_reference": E(_l("系统中没有您的留存照片,暂时无法进行人脸识别,请致电客服%(hotline)s")),
    "face_too_many_tries": E(_l("人脸识别尝试次数过多,我们将通过电话为您回访"), 429),
    "video_many_faces": E(_l("视频中出现了多张人脸,请单独录制")),
    "video_face_missing": E(_l("视频中未能持续检测到人脸,请正脸对准屏幕框重新录制")),
    "video_face_mismatch": E(_l("视频中的人脸与本人不符")),
    "video_not_live": E(_l("未能确认为真人实时录制,请在光线充足环境下正脸对准屏幕框,读出数字后重新录制")),
    "field_required": E(_l("%(field)s不能为空")),
    "field_too_long": E(_l("%(field)s过长")),
    "field_bad_choice": E(_l("%(field)s的取值无效:%(value)s")),
    "field_bad_date": E(_l("%(field)s不是有效日期(格式 YYYY-MM-DD):%(value)s")),
    "field_bad_money": E(_l("%(field)s不是有效金额:%(value)s")),
    "field_bad_int": E(_l("%(field)s应为正整数:%(value)s")),
    "field_bad_id": E(_l("%(field)s无效(格式或校验位错误):%(value)s")),
    "field_bad_mobile": E(_l("%(field)s不是有效的手机号:%(value)s")),
    "field_bad_chars": E(_l("%(field)s含有不允许的字符(控制字符、不可见字符或方向控制符)")),
    "customer_no_taken": E(_l("%(field)s %(value)s 已属于其他客户"), 409),
    "customer_id_taken": E(_l("证件号码 %(value)s 已属于客户 %(customer_no)s,请勿重复建档"), 409),
    "customer_invalid": E(_l("客户信息有误:%(problems)s")),
    "issue_date_too_early": E(_l("承保日期不能早于%(date)s")),
    "field_bad_policy_no": E(_l("保险单号格式无效(8-32位字母或数字):%(value)s")),
    "product_unknown": E(_l("产品代码 %(code)s 不存在")),
    "id_birth_mismatch": E(_l("%(field)s出生日期与身份证号码不符")),
    "id_gender_mismatch": E(_l("%(field)s性别与身份证号码不符")),
    "issue_date_future": E(_l("承保日期不能晚于今天")),
    "receipt_before_issue": E(_l("回执签收日不能早于承保日期")),
    "date_before_issue": E(_l("%(field)s不能早于承保日期")),
    "intake_bad_row": E(_l("数据格式错误:每张保单应为一个对象")),
    "duplicate_in_batch": E(_l("保险单号 %(policy_no)s 在本批数据中重复(首次出现在第%(first)s行)")),
    "customer_conflict": E(_l("证件号码 %(id_number)s 在本批数据中对应不同的姓名")),
    "beneficiary_shares": E(_l("%(kind)s第%(order)s顺序的受益比例合计应为100%%,实际为%(total)s%%")),
    "import_file_too_large": E(_l("文件过大:最大 %(mb)s MB"), 413),
    "import_unpacked_too_large": E(_l("Excel 文件解压后过大(超过 %(mb)s MB),请删除多余的行和列,或另存为 CSV 后上传"), 413),
    # customer account on the official-account pages (app/services/codes.py, account.py, wechat.py)
    "mobile_invalid": E(_l("请输入正确的11位手机号码")),
    "code_too_frequent": E(_l("验证码发送过于频繁,请%(seconds)s秒后再试"), 429),
    "code_hourly_limit": E(_l("该手机号本小时获取验证码次数已达上限,请稍后再试"), 429),
    "code_daily_limit": E(_l("该手机号今日获取验证码次数已达上限,请明天再试"), 429),
    "code_invalid": E(_l("验证码错误或已失效,请重新获取")),
    "code_wrong": E(_l("验证码错误,还可以再试%(left)s次")),
    "code_expired": E(_l("验证码已过期,请重新获取")),
    "code_used": E(_l("验证码已使用,请重新获取")),
    "code_too_many_tries": E(_l("验证码错误次数过多,请重新获取"), 429),
    "bind_mismatch": E(_l("您填写的信息与我们的保单记录不一致,请核对后重试")),
    "bind_locked": E(_l("绑定失败次数过多,请%(minutes)s分钟后再试,或致电客服%(hotline)s"), 429),
    "bind_wechat_taken": E(_l("该客户已绑定其他微信号,如需更换请致电客服%(hotline)s"), 409),
    "id_type_unknown": E(_l("请选择证件类型")),
    "account_not_bound": E(_l("请先完成保单绑定"), 403),
    "face_not_passed": E(_l("请先完成人脸识别"), 403),
    "face_auth_expired": E(_l("人脸识别已超过有效时间,请重新进行人脸识别"), 403),
    "face_too_many_today": E(_l("今日人脸识别未通过次数过多,请明天再试,或致电客服%(hotline)s"), 429),
    "challenge_missing": E(_l("数字已失效,请重新获取数字后再录制")),
    "password_mismatch": E(_l("两次输入的密码不一致")),
    "password_too_short": E(_l("服务密码至少为%(min)s位数字")),
    "password_not_digits": E(_l("服务密码只能由数字组成")),
    "password_birth_date": E(_l("服务密码不能使用您的出生日期")),
    "password_id_tail": E(_l("服务密码不能使用证件号码的末几位")),
    "password_same_digit": E(_l("服务密码不能全部是同一个数字")),
    "password_sequence": E(_l("服务密码不能是连续的数字,如123456或654321")),
    "wechat_not_configured": E(_l("微信登录暂未开通,请使用手机号验证码登录"), 503),
    "wechat_failed": E(_l("微信授权失败,请重新进入或使用手机号验证码登录"), 502),
    # phone revisit (app/services/phone_revisit.py, letters.py, export.py)
    "task_not_found": E(_l("回访任务不存在,或不是分配给您的任务"), 404),
    "task_not_claimable": E(_l("该任务已被其他专员领取或不在待回访队列中"), 409),
    "claim_one_at_a_time": E(_l("您手上还有未完成的回访任务,请先完成或释放后再领取"), 409),
    "task_not_yours_to_record": E(_l("该任务不在您的回访中,不能登记通话结果(可能已超时释放或被重新分配)"), 409),
    "agent_not_found": E(_l("请选择一位在职的回访专员")),
    "attempt_bad_outcome": E(_l("请选择通话结果")),
    "attempt_answers_not_reached": E(_l("未与投保人本人通话时不能登记问卷答案")),
    "attempt_success_with_no": E(_l("有问题回答为“否”,不能登记为成功,请选择“发现问题”")),
    "attempt_holder_not_verified": E(_l("回访成功须确认已与投保人本人通话")),
    "attempt_problem_reason": E(_l("发现问题时请填写问题说明,或在问卷中标出回答为“否”的问题")),
    "callback_time_required": E(_l("预约回拨请填写回拨时间")),
    "callback_time_bad": E(_l("回拨时间格式不正确,例如 2026-11-25 15:30")),
    "callback_time_range": E(_l("回拨时间须晚于现在,且在 %(days)s 天以内")),
    "attempt_same_day": E(_l("该任务今天已拨打过,电话回访须在不同日期进行,请明天再拨"), 409),
    "attempt_cap_reached": E(_l("电话回访已达 %(max)s 次上限"), 409),
    "reveal_bad_field": E(_l("只能查看证件号码或手机号码")),
    "letter_not_due": E(_l("该任务无需信函回访"), 409),
    "export_bad_range": E(_l("请填写正确的起止日期(开始日期不晚于结束日期,跨度不超过 366 天)")),
    # policy loan and repayment figures (app/services/loan.py): the reasons a trial calculation refuses
    "loan_policy_not_in_force": E(_l("保单状态为%(status)s,不能办理保单贷款"), 409),
    "loan_product_not_allowed": E(_l("%(product)s不提供保单贷款"), 409),
    "loan_unit_linked": E(_l("投资连结保险不能办理保单贷款"), 409),
    "loan_application_in_progress": E(_l("该保单有正在办理中的贷款或还款申请(申请号 %(application_no)s),请办理完毕后再申请"), 409),
    "loan_no_cash_value": E(_l("保单暂无现金价值,不能办理保单贷款"), 409),
    "loan_nothing_loanable": E(_l("可贷金额为0(未还贷款本息已达可贷上限),暂不能贷款"), 409),
    "loan_amount_not_positive": E(_l("本次贷款金额须大于0")),
    "loan_amount_above_loanable": E(_l("本次贷款金额 %(amount)s 元超过可贷金额 %(loanable)s 元"), 409),
    "loan_none_unpaid": E(_l("该保单没有未清偿的贷款"), 409),
    "repayment_not_positive": E(_l("还款金额须大于0")),
    "repayment_above_total": E(_l("还款金额 %(amount)s 元超过应还本息合计 %(total)s 元"), 409),
    # the loan rate table and ledger (app/services/ledger.py)
    "loan_rate_bad": E(_l("贷款年利率 %(value)s 无效,须在 0 至 0.24 之间(如 0.05 表示 5%%),最多6位小数")),
    "loan_rate_past_day": E(_l("生效日期 %(day)s 已过,新利率只能自今日或以后生效")),
    "loan_not_found": E(_l("贷款不存在"), 404),
    "loan_already_disbursed": E(_l("该笔贷款已登记放款到账(到账日 %(day)s),不能重复登记"), 409),
    "loan_not_approved": E(_l("该笔贷款的申请尚未审核通过,不能登记放款"), 409),
    # the payment system's payment instructions (ledger.payment_instruction / debit_instruction)
    "instruction_loan_not_pending": E(_l("该笔贷款不是待放款状态(%(status)s),不提供收款账户"), 409),
    "instruction_not_approved": E(_l("该申请未审核通过或已办结,不提供账户信息"), 409),
    "instruction_no_account": E(_l("该笔业务未保存完整银行卡号(早于加密保存启用),请人工核实账户"), 409),
    "disbursement_bad_day": E(_l("到账日期 %(day)s 无效:不能晚于今天,也不能早于申请审核通过之日")),
    "ledger_day_before_last": E(_l("记账日期 %(day)s 早于该笔贷款最近一笔台账记录的日期 %(last)s"), 409),
    "ledger_negative_balance": E(_l("记账后贷款余额将小于0,不能记账"), 409),
    "ledger_event_recorded": E(_l("该笔业务已记入贷款台账,不能重复记账"), 409),
    "loan_not_active": E(_l("该笔贷款不是未清偿状态,不能登记还款"), 409),
    "repayment_ref_missing": E(_l("请填写支付流水号(不超过48个字符)")),
    "repayment_bad_result": E(_l("支付结果 %(result)s 无效,应为 PAID 或 FAILED")),
    "repayment_bad_day": E(_l("还款日期 %(day)s 无效:不能晚于今天,也不能早于最近一次计息日")),
    "repayment_application_not_approved": E(_l("该还款申请不存在、不属于这张保单或尚未审核通过"), 409),
    "database_not_ready": E(_l("无法读取数据库:尚未建立或无法连接,请先运行 flask db upgrade(或 make run)"), 503),
    # servicing applications (app/services/servicing/)
    "application_bad_transition": E(_l("保全申请状态 %(status)s 不能执行 %(event)s"), 409),
    "application_not_found": E(_l("保全申请不存在"), 404),
    "application_bad_kind": E(_l("未知的保全项目:%(kind)s")),
    "application_key_missing": E(_l("页面已过期,请刷新后重新提交")),
    "application_key_taken": E(_l("该申请已由他人提交,请刷新后重新填写"), 409),
    "application_bad_check": E(_l("规则校验结果格式有误:%(check)s"), 500),
    "application_not_in_review": E(_l("该申请不在人工审核中(当前状态:%(status)s)"), 409),
    "application_already_approved_by_you": E(_l("您已审核通过该申请,须由另一位审核人员复核"), 409),
    "application_own_submission": E(_l("您代客户提交的申请不能由您本人审核"), 403),
    "application_reject_reason": E(_l("请选择拒绝原因")),
    "application_reject_note": E(_l("请填写拒绝说明")),
    "application_not_cancellable": E(_l("该申请已处理,不能撤销"), 409),
    "application_not_sampled": E(_l("该申请未被抽检(当前状态:%(status)s)"), 409),
    "application_sample_reviewed": E(_l("该抽检申请已复核"), 409),
    "application_sample_note": E(_l("请填写复核结论")),
    # the insured's consent (app/services/servicing/consent.py)
    "consent_not_found": E(_l("链接无效,请核对短信中的链接。"), 404),
    "consent_expired": E(_l("该确认链接已过期,申请已失效。如有疑问请致电%(hotline)s。"), 410),
    "consent_used": E(_l("该确认链接已使用,无需再次确认。"), 409),
    "consent_face_required": E(_l("请先完成人脸识别再确认。"), 403),
    "face_too_many_tries_consent": E(_l("人脸识别失败次数过多,请勿再次尝试。如有疑问请致电%(hotline)s。"), 429),
    # the customer's loan and repayment pages (app/services/loan_application.py)
    "servicing_not_verified": E(_l("办理保全项目前,需要先完成账户认证(保单绑定、人脸识别、设置服务密码)。"), 403),
    "servicing_policy_not_found": E(_l("您要查看的保单不存在或不属于您。"), 404),
    "servicing_refused": E(_l("暂不能受理:%(reason)s"), 409),
    "servicing_bank_unknown": E(_l("请选择开户银行")),
    "servicing_card_length": E(_l("请输入16至19位数字的银行卡号")),
    "servicing_card_invalid": E(_l("银行卡号有误,请核对后重新输入")),
    "servicing_credit_card": E(_l("不能使用信用卡,请使用本人的借记卡(储蓄卡)")),
    "servicing_account_not_own": E(_l("该提供的银行账户须以本人的真实姓名开立,账户名须与投保人姓名一致")),
    "servicing_agreement": E(_l("请阅读并同意协议中的条款")),
    "servicing_id_images_missing": E(_l("贷款金额超过%(amount)s元时,需要上传身份证正反面")),
    "servicing_face_required": E(_l("大额资金交易,须进行人脸识别:贷款金额超过%(amount)s元,请先完成人脸识别"), 403),
    "servicing_password_missing": E(_l("请输入服务密码")),
    "servicing_password_wrong": E(_l("服务密码错误")),
    "servicing_code_missing": E(_l("请输入短信验证码")),
    # 受益人变更 (services/beneficiary.py)
    "beneficiary_shares_total": E(_l("同一顺序的受益比例相加需为100%%(%(kind)s%(order)s合计%(total)s%%)")),
    "beneficiary_share_bad": E(_l("%(who)s:受益比例须为大于0且不超过100的数,最多两位小数")),
    "beneficiary_share_partly": E(_l("%(kind)s%(order)s:请填写每一位受益人的受益比例,或全部留空平均分配")),
    "beneficiary_row": E(_l("%(who)s:%(problem)s")),
    "beneficiary_none": E(_l("请至少填写一位%(kind)s")),
    "beneficiary_too_many": E(_l("%(kind)s最多%(count)s位")),
    "beneficiary_id_expired": E(_l("%(who)s:证件已过有效期(%(until)s),请使用有效证件")),
    "beneficiary_id_validity": E(_l("%(who)s:请选择证件有效期为长期,或填写证件有效期至")),
    "beneficiary_order_bad": E(_l("%(who)s:请选择受益顺序")),
    "beneficiary_relationship_bad": E(_l("%(who)s:请选择与被保险人关系")),
    "beneficiary_not_relative": E(_l("%(who)s:受益人须为被保险人本人或被保险人的亲属,不能指定与被保险人关系为"
                                      "“其他”的人")),
    "beneficiary_self_mismatch": E(_l("%(who)s:与被保险人关系为本人时,须为保单%(policy_no)s的被保险人%(insured)s本人")),
    "beneficiary_minor": E(_l("被保险人%(insured)s未满18周岁,投保人不是其监护人,受益人只能指定为被保险人的监护人"
                              "(与被保险人关系为父母或监护人);%(who)s不符")),
    "beneficiary_no_policy": E(_l("请选择需要变更受益人的保单")),
    "beneficiary_policy_refused": E(_l("保单%(policy_no)s暂不能变更受益人:%(reason)s"), 409),
    "beneficiary_survival_fixed": E(_l("所选保单中有产品不允许变更生存受益人")),
    "beneficiary_unchanged": E(_l("受益人未作修改,无需提交")),
    "beneficiary_not_confirmed": E(_l("请确认不再添加其他受益人")),
}


def _defaults():
    return {"hotline": current_app.config.get("HOTLINE", "")} if has_app_context() else {}


def message_for(key, **params):
    """The message of `key`, or None when the map has no such key or it needs other parameters
    (a reason stored on a record, shown later)."""
    entry = MESSAGES.get(key)
    if entry is None:
        return None
    try:
        return str(entry.text) % {**_defaults(), **params}
    except (KeyError, TypeError, ValueError):
        return None


class DomainError(Exception):
    """A business rule said no. `key` selects the message and status; `params` fill it in."""

    def __init__(self, key, /, **params):
        super().__init__(key)
        self.key = key
        self.params = params

    @property
    def status(self):
        entry = MESSAGES.get(self.key)
        return entry.status if entry is not None else 400

    @property
    def message(self):
        entry = MESSAGES.get(self.key)
        return str(entry.text) % {**_defaults(), **self.params} if entry is not None else self.key

    def __str__(self):
        try:
            return self.message
        except Exception:  # outside an app context the lazy string cannot render
            return self.key

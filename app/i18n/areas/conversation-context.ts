/** UI strings of a conversation's context policy and its markers in the thread. English, and Simplified Chinese. */
export const conversationContextEn = {
  'context.button': 'Context: {policy}',
  'context.title': 'When the conversation outgrows the model',
  'context.hint': 'Older turns that no longer fit the model’s context are…',
  'context.policy.summarize': 'Summarised',
  'context.policy.trim': 'Left out',
  'context.policy.turns': 'Last turns only: {turns}',
  'context.option.summarize': 'Summarised by the model (recommended)',
  'context.option.trim': 'Left out, oldest first',
  'context.option.turns': 'Always send only the last turns',
  'context.turns': 'Turns to send',
  'context.saved': 'Context setting saved',
  'context.summaryMarker': 'Earlier messages summarised ({count})',
  'context.trimMarker': '{count} earlier messages were not sent to the model, to fit its context',
  'context.summaryModel': 'Summary written by {model}',
};

export const conversationContextZh: Record<keyof typeof conversationContextEn, string> = {
  'context.button': '上下文：{policy}',
  'context.title': '对话超出模型上下文时',
  'context.hint': '放不下的较早消息将会…',
  'context.policy.summarize': '摘要',
  'context.policy.trim': '省略',
  'context.policy.turns': '仅最近 {turns} 轮',
  'context.option.summarize': '由模型生成摘要（推荐）',
  'context.option.trim': '从最早的开始省略',
  'context.option.turns': '始终只发送最近几轮',
  'context.turns': '发送的轮数',
  'context.saved': '上下文设置已保存',
  'context.summaryMarker': '较早的消息已摘要（{count} 条）',
  'context.trimMarker': '为适应模型上下文，{count} 条较早的消息未发送给模型',
  'context.summaryModel': '摘要由 {model} 生成',
};

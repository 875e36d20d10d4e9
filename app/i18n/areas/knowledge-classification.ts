/** UI strings of knowledge bases' data classification: the level on /knowledge and the chat's withheld-passages notice. English, and Simplified Chinese. */
export const knowledgeClassificationEn = {
  'knowledge.levelHint': 'Classification: chats send passages of this base only to models that may receive this level',
  'knowledge.withheld.one': '1 passage from {levels} documents was withheld: {model} may receive {maxLevel} data at most.',
  'knowledge.withheld.other': '{count} passages from {levels} documents were withheld: {model} may receive {maxLevel} data at most.',
  'knowledge.withheld.or': ' or ',
};

export const knowledgeClassificationZh: Record<keyof typeof knowledgeClassificationEn, string> = {
  'knowledge.levelHint': '数据分级：对话只会把该知识库的段落发送给可接收此级别数据的模型',
  'knowledge.withheld.one': '已隐去 1 段来自{levels}级文档的内容：{model} 最多只能接收{maxLevel}级数据。',
  'knowledge.withheld.other': '已隐去 {count} 段来自{levels}级文档的内容：{model} 最多只能接收{maxLevel}级数据。',
  'knowledge.withheld.or': '或',
};

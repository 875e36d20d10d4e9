/**
 * A small bundled corpus with known answers, for retrieval quality (recall@5): policy pages of a
 * fictional company, and questions worded differently from the pages, each with the document that
 * answers it. Several pages share vocabulary (days, approval, requests) so ranking is not trivial.
 */
export const CORPUS: Record<string, string> = {
  'travel.md': `# Travel policy\n## Flights\nBook economy class for flights shorter than six hours. Business class needs approval from a director.\n## Hotels\nHotel rooms may cost up to 150 euros a night in Europe and 220 dollars in North America.`,
  'expenses.md': `# Expense claims\nSubmit receipts within 30 days of the purchase. Claims above 500 euros need the approval of your manager.\n## Meals\nMeals during travel are reimbursed up to 45 euros a day.`,
  'leave.md': `# Annual leave\nEvery employee has 27 days of paid holiday each year. Unused holiday days can be carried over until the end of March.\n## Requests\nRequest leave at least two weeks in advance in the HR portal.`,
  'sick.md': `# Sick leave\nTell your manager before 10:00 on the first day of illness. From the third day a doctor's note is required.`,
  'security.md': `# Information security\n## Passwords\nPasswords must be at least 14 characters and are changed only after a suspected compromise.\n## Laptops\nLaptops use full-disk encryption; a lost laptop is reported to the security desk within one hour.`,
  'office.md': `# Office\nThe Rotterdam office opens at 07:30 and closes at 19:00. Visitors sign in at the reception on the ground floor.\n## Parking\nThe garage under the building has 40 spaces, booked through the facilities app.`,
  'onboarding.md': `# Onboarding\nNew starters receive their laptop on the first morning. A buddy from the team guides them through the first two weeks.`,
  'remote.md': `# Remote work\nYou may work from home up to three days a week. Working from abroad is allowed for at most four weeks a year.`,
  'payroll.md': `# Payroll\nSalaries are paid on the 25th of each month. The holiday allowance of 8 percent is paid in May.`,
  'training.md': `# Training budget\nEach employee has a personal training budget of 1,500 euros a year for courses, books and conferences.`,
};

export const QUESTIONS: { question: string; answer: keyof typeof CORPUS }[] = [
  { question: 'How much can a hotel cost per night?', answer: 'travel.md' },
  { question: 'Which class should I fly on a short flight?', answer: 'travel.md' },
  { question: 'How long do I have to submit receipts?', answer: 'expenses.md' },
  { question: 'How many holiday days do employees get?', answer: 'leave.md' },
  { question: 'When do I need a doctor note when ill?', answer: 'sick.md' },
  { question: 'What is the minimum password length?', answer: 'security.md' },
  { question: 'What do I do when my laptop is lost?', answer: 'security.md' },
  { question: 'When does the Rotterdam office open?', answer: 'office.md' },
  { question: 'How many days a week can I work from home?', answer: 'remote.md' },
  { question: 'On which day are salaries paid?', answer: 'payroll.md' },
  { question: 'What is the yearly training budget for courses?', answer: 'training.md' },
  { question: 'Who guides new starters?', answer: 'onboarding.md' },
];

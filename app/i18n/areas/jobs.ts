/** UI strings of the jobs screens: English, and Simplified Chinese (the type makes a missing key an error). */
export const jobsEn = {
} as const;

export const jobsZh: Record<keyof typeof jobsEn, string> = {
};

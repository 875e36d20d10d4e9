/** UI strings of the datasets screens: English, and Simplified Chinese (the type makes a missing key an error). */
export const datasetsEn = {
} as const;

export const datasetsZh: Record<keyof typeof datasetsEn, string> = {
};

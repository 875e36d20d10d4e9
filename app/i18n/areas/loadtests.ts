/** UI strings of the loadtests screens: English, and Simplified Chinese (the type makes a missing key an error). */
export const loadtestsEn = {
} as const;

export const loadtestsZh: Record<keyof typeof loadtestsEn, string> = {
};

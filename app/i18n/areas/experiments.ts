/** UI strings of the experiments screens: English, and Simplified Chinese (the type makes a missing key an error). */
export const experimentsEn = {
} as const;

export const experimentsZh: Record<keyof typeof experimentsEn, string> = {
};

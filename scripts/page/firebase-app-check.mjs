// What the page uses of Firebase's JS SDK: bundled by scripts/build_page.py with esbuild from the
// pinned npm packages (package.json, package-lock.json) into static_site's git-ignored vendor/ folder.
export { initializeApp } from "@firebase/app";
export { getToken, initializeAppCheck, ReCaptchaEnterpriseProvider } from "@firebase/app-check";

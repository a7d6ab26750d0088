# Sourced by .ci/test: makes headless Chromium and its WebDriver available to the browser
# tests (tests/browser.rs). Installs Debian's `chromium` and `chromium-driver` when
# missing; a machine that cannot install them fails here, so no browser test is skipped.
# The tests start chromedriver themselves on a free loopback port.

chromium_setup() {
    local missing=()
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "installing ${missing[*]}"
        local sudo=()
        [ "$(id -u)" -eq 0 ] || sudo=(sudo)
        export DEBIAN_FRONTEND=noninteractive
        "${sudo[@]}" apt-get update -qq
        "${sudo[@]}" apt-get install -y -qq chromium chromium-driver fonts-dejavu-core >/dev/null
    fi
    CHROMEDRIVER="$(command -v chromedriver)"
    CHROMIUM="$(command -v chromium)"
    export CHROMEDRIVER CHROMIUM
    echo "chromium: $("$CHROMIUM" --version 2>/dev/null | head -n1); driver: $CHROMEDRIVER"
}

chromium_setup

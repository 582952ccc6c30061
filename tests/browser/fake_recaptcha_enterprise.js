// Stands in for Google's reCAPTCHA Enterprise script (https://www.google.com/recaptcha/enterprise.js),
// which needs Google's servers: the same grecaptcha.enterprise calls Firebase's App Check SDK makes
// (ready, render an invisible widget, execute), answering with a fixed attestation token.
(() => {
  const widgets = [];
  self.grecaptcha = {
    enterprise: {
      ready(callback) {
        setTimeout(callback, 0);
      },
      render(container, params) {
        widgets.push(params);
        return widgets.length - 1;
      },
      execute(widgetId, { action }) {
        const widget = widgets[widgetId];
        widget.callback("recaptcha-ok");
        return Promise.resolve(`recaptcha-enterprise-token:${widget.sitekey}:${action}`);
      },
    },
  };
})();

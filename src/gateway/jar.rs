//! A browser's cookie jar for the gateway's tests: `Set-Cookie` values applied in order
//! (`Max-Age=0` removes), sent back as one `Cookie` header.

#[derive(Clone, Debug, Default)]
pub(super) struct Jar(pub(super) Vec<(String, String)>);

impl Jar {
    pub(super) fn take(&mut self, headers: &[(String, String)]) {
        for (_, v) in headers.iter().filter(|(n, _)| n == "set-cookie") {
            let pair = v.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.0.retain(|(n, _)| n != name);
            if !v.contains("Max-Age=0") {
                self.0.push((name.into(), value.into()));
            }
        }
    }

    pub(super) fn without(&self, name: &str) -> Jar {
        Jar(self.0.iter().filter(|(n, _)| n != name).cloned().collect())
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `Cookie` header of the jar.
    pub(super) fn header(&self) -> (String, String) {
        let text: Vec<String> = self.0.iter().map(|(n, v)| format!("{n}={v}")).collect();
        ("cookie".into(), text.join("; "))
    }
}

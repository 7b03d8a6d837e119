using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Playwright;

namespace SlmStudio.BrowserTests;

/// <summary>
/// A real portal process on a fresh database and fresh folders, and Debian's Chromium driven by Playwright. Chromium
/// is installed with apt-get when it is missing and the tests run as root; otherwise the fixture fails with the one
/// command to run. Browser tests never skip silently.
/// </summary>
public sealed class PortalFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private Process? _portal;
    private readonly List<string> _log = [];
    public string BaseUrl { get; private set; } = "";
    public string DataRoot { get; } = Path.Combine(Path.GetTempPath(), "slm-browser-tests", Guid.NewGuid().ToString("N"));
    public string RepoRoot { get; } = FindRepoRoot();
    public string Screenshots => Path.Combine(RepoRoot, "TestResults", "browser-screenshots");
    /// <summary>
    /// Saves a full-page screenshot under <see cref="Screenshots"/> and returns its path. With SLM_PHONE_SCREENSHOTS=1 it
    /// also opens the same address in a second, 390 px wide page of the same sign-in and saves that (name-390.png), for
    /// people to look at the phone layout; off by default, as it doubles the page loads of a walk.
    /// </summary>
    public async Task<string> ShotAsync(IPage page, string name)
    {
        var path = Path.Combine(Screenshots, $"{name}.png");
        await SettledAsync(page);
        await page.ScreenshotAsync(new() { Path = path, FullPage = true });
        if (Environment.GetEnvironmentVariable("SLM_PHONE_SCREENSHOTS") == "1")
        {
            var phone = await page.Context.NewPageAsync();
            await phone.SetViewportSizeAsync(390, 844);
            await phone.GotoAsync(page.Url, new() { WaitUntil = WaitUntilState.NetworkIdle });
            await SettledAsync(phone);
            await phone.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, $"{name}-390.png"), FullPage = true });
            await phone.CloseAsync();
        }
        return path;
    }

    /// <summary>
    /// Until the page is interactive and its side menu has taken its first state (MainLayout drops "layout-settling"):
    /// the server's first drawing of a page opened by address is not what a person looks at. Pages without the main
    /// layout (sign-in) are taken as they are after a short wait.
    /// </summary>
    private static async Task SettledAsync(IPage page)
    {
        try { await page.Locator(".mud-layout:not(.layout-settling)").First.WaitForAsync(new() { Timeout = 5_000 }); }
        catch (TimeoutException) { }
    }

    public IPlaywright Playwright { get; private set; } = default!;
    public IBrowser Browser { get; private set; } = default!;

    public async Task InitializeAsync()
    {
        await EnsureChromiumAsync();
        Directory.CreateDirectory(DataRoot);
        Directory.CreateDirectory(Screenshots);
        await StartPortalAsync();
        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await Playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    /// <summary>The first administrator, created through the set-up page by the first test that signs in.</summary>
    public string AdminEmail { get; } = "first.admin@example.com";
    public string AdminPassword { get; } = "browser-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>The one-time set-up code the portal printed in its log at start.</summary>
    public string SetupCode()
    {
        lock (_log)
            foreach (var line in _log)
            {
                var match = System.Text.RegularExpressions.Regex.Match(line, "one-time set-up code: ([0-9A-F]+)");
                if (match.Success) return match.Groups[1].Value;
            }
        throw new InvalidOperationException("The portal printed no set-up code:\n" + PortalLog);
    }

    /// <summary>
    /// Signs the page's browser context in as the administrator: on a fresh portal through the first-run set-up page
    /// (code from the log), afterwards through the sign-in form. Returns whether this call created the administrator.
    /// </summary>
    public async Task<bool> SignInAsync(IPage page)
    {
        await page.GotoAsync($"{BaseUrl}/account/login");
        var firstRun = page.Url.Contains("/account/setup");
        if (firstRun)
        {
            await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Create the first administrator" })).ToBeVisibleAsync();
            await page.FillAsync("input[name=code]", SetupCode());
        }
        await page.FillAsync("input[name=email]", AdminEmail);
        await page.FillAsync("input[name=password]", AdminPassword);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForURLAsync(url => !url.Contains("/account/"));
        return firstRun;
    }

    public string PortalLog { get { lock (_log) return string.Join('\n', _log.TakeLast(200)); } }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SlmStudio.sln"))) return dir.FullName;
        throw new InvalidOperationException("The browser tests must run from inside the SLM Studio repository.");
    }

    private static async Task EnsureChromiumAsync()
    {
        if (File.Exists(ChromiumPath)) return;
        if (Environment.UserName != "root")
            throw new InvalidOperationException("Chromium is missing for the browser tests: run 'sudo apt-get update && sudo apt-get install -y chromium' and run the tests again.");
        var psi = new ProcessStartInfo("bash", ["-c", "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0 || !File.Exists(ChromiumPath))
            throw new InvalidOperationException($"Installing Chromium with apt-get failed (exit {p.ExitCode}); run 'apt-get update && apt-get install -y chromium' by hand. {await stderr}");
        _ = await stdout;
    }

    private async Task StartPortalAsync()
    {
        // The portal binaries built beside this test project's configuration (Debug or Release).
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var web = Path.Combine(RepoRoot, "src", "SlmStudio.Web", "bin", configuration, "net10.0", "SlmStudio.Web.dll");
        if (!File.Exists(web)) throw new InvalidOperationException($"The portal is not built at {web}; build the solution first.");
        var port = FreePort();
        BaseUrl = $"http://127.0.0.1:{port}";
        var psi = new ProcessStartInfo("dotnet", [web, "--urls", BaseUrl])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = DataRoot, // any directory works: the portal finds its content root itself
        };
        psi.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        psi.Environment["Studio__JobsPath"] = Path.Combine(DataRoot, "jobs");
        psi.Environment["Studio__ModelsPath"] = Path.Combine(DataRoot, "models");
        psi.Environment["Studio__BaseModelsPath"] = Path.Combine(DataRoot, "base-models");
        psi.Environment["Studio__DatabasePath"] = Path.Combine(DataRoot, "studio.db");
        psi.Environment["Studio__HangfireDatabasePath"] = Path.Combine(DataRoot, "hangfire.db");
        psi.Environment["Studio__MinimumTrainingCharacters"] = "4000";
        _portal = Process.Start(psi)!;
        _portal.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.Add(e.Data); };
        _portal.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.Add(e.Data); };
        _portal.BeginOutputReadLine();
        _portal.BeginErrorReadLine();

        using var http = new HttpClient();
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            if (_portal.HasExited) throw new InvalidOperationException($"The portal exited with code {_portal.ExitCode}:\n{PortalLog}");
            try
            {
                if ((await http.GetAsync(BaseUrl)).StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException) { }
            await Task.Delay(500);
        }
        throw new TimeoutException($"The portal did not answer within 90 s:\n{PortalLog}");
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        Playwright?.Dispose();
        if (_portal is { HasExited: false })
        {
            _portal.Kill(entireProcessTree: true);
            await _portal.WaitForExitAsync();
        }
        _portal?.Dispose();
        try { Directory.Delete(DataRoot, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

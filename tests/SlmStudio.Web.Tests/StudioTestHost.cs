using Hangfire;
using Microsoft.AspNetCore.Builder;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using SlmStudio.Web;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Tests;

/// <summary>
/// The portal's real service composition (AddStudioServices) over a fresh folder: a real SQLite database file, real
/// Hangfire SQLite storage, real jobs/ and models/ folders. Web-only role, so no Hangfire server picks jobs up behind
/// the test's back; tests call the jobs themselves.
/// </summary>
public sealed class StudioTestHost : IAsyncDisposable
{
    public string Root { get; }
    public WebApplication App { get; }
    public IServiceProvider Services => App.Services;

    private StudioTestHost(string root, WebApplication app)
    {
        Root = root;
        App = app;
    }

    /// <summary>Keeps the folder (database, jobs, models) on dispose, so a second host can start over it like a restarted portal.</summary>
    public bool KeepFiles { get; set; }

    /// <summary>With <paramref name="web"/>, the host also serves pages and endpoints on 127.0.0.1 (see <see cref="BaseAddress"/>),
    /// with sign-in as the portal has it; create people with <see cref="AddUserAsync"/> and sign them in with <see cref="SignInAsync"/>.</summary>
    public static async Task<StudioTestHost> StartAsync(Dictionary<string, string?>? settings = null, string? root = null, bool web = false)
    {
        root ??= Path.Combine(Path.GetTempPath(), "slm-web-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            ContentRootPath = root,
            EnvironmentName = "Testing",
            // The portal's static assets manifest is named after its assembly; pages find MudBlazor's files through it.
            ApplicationName = web ? typeof(StudioHost).Assembly.GetName().Name : null,
        });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Studio:Role"] = "Web",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:SlmStudio"] = "Information",
            ["Studio:MinimumTrainingCharacters"] = "2000",
            ["Studio:HeartbeatSeconds"] = "1",
            ["Studio:LeaseTimeoutSeconds"] = "5",
            ["Urls"] = "http://127.0.0.1:0",
        });
        if (settings is not null) builder.Configuration.AddInMemoryCollection(settings);
        PostgresTestDatabase? postgres = null;
        if (PostgresTestDatabase.EveryHostOnPostgres && settings?.ContainsKey("Studio:Database:Provider") != true)
        {
            // SLM_TEST_ALL_ON_POSTGRES=1: the whole suite on PostgreSQL, one database per folder (a restarted host finds its own).
            postgres = await PostgresTestDatabase.ForFolderAsync(root);
            builder.Configuration.AddInMemoryCollection(postgres.Settings());
        }
        builder.AddStudioServices();
        if (web) builder.AddStudioWeb();
        var app = builder.Build();
        await app.MigrateStudioDatabaseAsync();
        if (web)
        {
            app.UseStudioWeb();
            await app.StartAsync();
        }
        // Hangfire's static client needs its storage initialised, as the running portal does on start.
        _ = app.Services.GetRequiredService<JobStorage>();
        // Hangfire keeps process-wide static state whose type initialisers log: run them while this host's logger
        // factory is alive, not later against an already disposed test host's.
        _ = Hangfire.Common.JobFilterProviders.Providers;
        _ = GlobalJobFilters.Filters;
        return new StudioTestHost(root, app) { _postgres = postgres };
    }

    private PostgresTestDatabase? _postgres;

    /// <summary>The address the web host listens on (only with web: true).</summary>
    public Uri BaseAddress => new(App.Urls.First());

    public async Task<StudioUser> AddUserAsync(string email, string role, string password = TestPassword)
    {
        await using var scope = Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.UserManager<StudioUser>>();
        var errors = await SlmStudio.Web.Security.FirstRunSetup.CreateUserAsync(users, email, password, role);
        if (errors.Count > 0) throw new InvalidOperationException(string.Join(" ", errors));
        return (await users.FindByNameAsync(email))!;
    }

    public const string TestPassword = "correct horse battery";

    /// <summary>An HTTP client that does not follow redirects, signed in through the real sign-in form when an e-mail is given.</summary>
    public async Task<HttpClient> ClientAsync(string? email = null, string password = TestPassword)
    {
        var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new System.Net.CookieContainer() }) { BaseAddress = BaseAddress };
        if (email is null) return http;
        var response = await SignInAsync(http, email, password);
        if (response.StatusCode != System.Net.HttpStatusCode.Redirect) throw new InvalidOperationException($"Sign-in of {email} failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return http;
    }

    public static async Task<HttpResponseMessage> SignInAsync(HttpClient http, string email, string password) =>
        await PostFormAsync(http, "/account/login", new() { ["email"] = email, ["password"] = password, ["returnUrl"] = "/" });

    /// <summary>Loads the form page for its antiforgery token, as a browser would, then posts the fields.</summary>
    public static async Task<HttpResponseMessage> PostFormAsync(HttpClient http, string path, Dictionary<string, string> fields)
    {
        var page = await http.GetStringAsync(path);
        var match = System.Text.RegularExpressions.Regex.Match(page, "name=\"(__RequestVerificationToken[^\"]*)\" value=\"([^\"]+)\"");
        if (!match.Success) throw new InvalidOperationException($"No antiforgery token on {path}: {page}");
        fields[match.Groups[1].Value] = System.Net.WebUtility.HtmlDecode(match.Groups[2].Value);
        return await http.PostAsync(path, new FormUrlEncodedContent(fields));
    }

    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();

    public async Task<StudioDbContext> DbAsync() => await Get<IDbContextFactory<StudioDbContext>>().CreateDbContextAsync();

    public async Task<Project> AddProjectAsync(string name = "Test project", params (string Prompt, string MustContain)[] goals)
    {
        await using var db = await DbAsync();
        var p = new Project { Name = name, CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow };
        p.GoalTests.AddRange(goals.Select(g => new GoalTest { Prompt = g.Prompt, MustContain = g.MustContain }));
        db.Projects.Add(p);
        await db.SaveChangesAsync();
        return p;
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (KeepFiles) return;
        if (_postgres is not null) await PostgresTestDatabase.ForgetFolderAsync(Root);
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

using Hangfire;
using Hangfire.Dashboard;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components.Server.Circuits;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using MudBlazor.Services;
using SlmStudio.Web.Api;
using SlmStudio.Web.Components;
using SlmStudio.Web.Data;
using SlmStudio.Web.Health;
using SlmStudio.Web.Jobs;
using SlmStudio.Web.Options;
using SlmStudio.Web.Security;
using SlmStudio.Web.Services;

namespace SlmStudio.Web;

/// <summary>The portal's composition, in the order Program.cs reads it.</summary>
public static class StudioHost
{
    /// <summary>The folder that holds SlmStudio.sln (the repository root), searched upwards from the binaries; the
    /// binaries' folder when the portal runs outside a checkout.</summary>
    public static string FindContentRoot()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("SLMSTUDIO_CONTENT_ROOT");
        if (!string.IsNullOrWhiteSpace(fromEnvironment)) return Path.GetFullPath(fromEnvironment);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SlmStudio.sln"))) return dir.FullName;
        return AppContext.BaseDirectory;
    }

    /// <summary>Options, the database, the services the pages call, the background jobs and, when this process is
    /// one, the worker that runs them.</summary>
    public static void AddStudioServices(this WebApplicationBuilder builder)
    {
        builder.AddStudioOptions();
        builder.AddStudioDatabase();
        builder.AddStudioHealthChecks();
        builder.AddStudioMetrics();
        builder.Services.AddStudioIdentity();
        builder.AddStudioOpenIdConnect();
        builder.Services.AddPageServices();
        builder.Services.AddJobs();
        builder.Services.AddOriginalsRetention();
        builder.AddRunUpdateRelay();
        builder.AddWorkerWhenConfigured();
    }

    private static void AddStudioOptions(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<StudioOptions>().BindConfiguration(StudioOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<StudioPaths>();
    }

    /// <summary>
    /// People sign in with ASP.NET Core Identity (users and roles in the portal's SQLite database) and a cookie; every
    /// endpoint needs a signed-in person unless it says otherwise.
    /// </summary>
    private static void AddStudioIdentity(this IServiceCollection services)
    {
        services.AddIdentity<StudioUser, IdentityRole>(o =>
            {
                o.Password.RequiredLength = 12;
                o.Password.RequireNonAlphanumeric = false;
                o.Password.RequireUppercase = false;
                o.Password.RequireLowercase = false;
                o.Password.RequireDigit = false;
                o.Lockout.MaxFailedAccessAttempts = 5;
                o.Lockout.DefaultLockoutTimeSpan = TimeSpan.FromMinutes(5);
                o.Lockout.AllowedForNewUsers = true;
                o.User.RequireUniqueEmail = true;
            })
            .AddEntityFrameworkStores<StudioDbContext>()
            .AddDefaultTokenProviders();
        services.ConfigureApplicationCookie(o =>
        {
            o.Cookie.Name = "SlmStudio.SignIn";
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.LoginPath = "/account/login";
            o.LogoutPath = "/account/logout";
            o.AccessDeniedPath = "/account/denied";
            o.ExpireTimeSpan = TimeSpan.FromHours(10);
            o.SlidingExpiration = true;
            // Programs calling files and APIs get a status code, not a sign-in page.
            o.Events.OnRedirectToLogin = ctx => ApiAware(ctx, StatusCodes.Status401Unauthorized);
            o.Events.OnRedirectToAccessDenied = ctx => ApiAware(ctx, StatusCodes.Status403Forbidden);
        });
        services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build())
            .AddPolicy(StudioRoles.BuildersPolicy, p => p.RequireRole(StudioRoles.Administrator, StudioRoles.Builder))
            .AddPolicy(StudioRoles.AdministratorsPolicy, p => p.RequireRole(StudioRoles.Administrator));
        services.AddSingleton<FirstRunSetup>();
        services.AddSingleton<AccessAdministration>();
        services.AddSingleton<AuditLog>();
    }

    private static Task ApiAware(Microsoft.AspNetCore.Authentication.RedirectContext<Microsoft.AspNetCore.Authentication.Cookies.CookieAuthenticationOptions> ctx, int status)
    {
        var path = ctx.Request.Path;
        if (path.StartsWithSegments("/api") || path.StartsWithSegments("/v1") || path.StartsWithSegments("/hangfire") || path.StartsWithSegments("/_blazor"))
            ctx.Response.StatusCode = status;
        else
            ctx.Response.Redirect(ctx.RedirectUri);
        return Task.CompletedTask;
    }

    /// <summary>One service per area the pages show: projects, data, runs, models.</summary>
    private static void AddPageServices(this IServiceCollection services)
    {
        services.AddSingleton<ProjectService>();
        services.AddSingleton<ProjectDeletion>();

        services.AddSingleton<DataUploads>();
        services.AddSingleton<DataNotifier>();
        services.AddSingleton<DataPreparation>();
        services.AddSingleton<TrainingData>();

        services.AddSingleton<RunService>();
        services.AddSingleton<RunNotifier>();
        services.AddSingleton<PresetBenchmarks>();
        services.AddSingleton<FineTunePlanner>();
        services.AddSingleton<MachineLoadProbe>();

        services.AddSingleton<ModelRegistry>();
        services.AddSingleton<ModelGeneration>();
        services.AddSingleton<ModelClassification>();
        services.AddSingleton<ClassifierReports>();
        services.AddSingleton<ChatReports>();
        services.AddSingleton<VersionVerdicts>();
        services.AddSingleton<VersionExports>();
        services.AddSingleton<ModelChat>();
        services.AddSingleton<DocumentSearch>();
        services.AddSingleton<BaseModelCatalog>().AddHostedService(sp => sp.GetRequiredService<BaseModelCatalog>());
    }

    private static void AddJobs(this IServiceCollection services)
    {
        services.AddSingleton<RunLeases>();
        // Run and model files on a folder every machine mounts; see IArtifactStore for an object store.
        services.AddSingleton<IArtifactStore, SharedFolderArtifactStore>();
        services.AddOptions<QueueOptions>().BindConfiguration(QueueOptions.Section);
        services.AddSingleton<TrainingQueues>();
        services.AddSingleton<RunScheduler>();
        services.AddSingleton<RunSweeper>();
        services.AddTransient<TrainingJob>();
        services.AddTransient<ExportJob>();
        services.AddTransient<RegisterJob>();

        services.AddHangfire((sp, config) => config.SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
            .UseSimpleAssemblyNameTypeSerializer()
            .UseRecommendedSerializerSettings()
            .UseStudioJobStorage(sp));
        JobLogScope.Register();
        services.Configure<HostOptions>(o => o.ShutdownTimeout = TrainingJob.StopGrace + TimeSpan.FromSeconds(15));
    }

    /// <summary>The Hangfire servers and the sweeper, only in a process whose role includes the worker.</summary>
    private static void AddWorkerWhenConfigured(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var role = builder.Configuration.GetSection(StudioOptions.Section).Get<StudioOptions>() ?? new StudioOptions();
        if (!role.RunsWorker) return;
        services.AddHangfireServer((sp, o) =>
        {
            o.ServerName = $"{Environment.MachineName}-training";
            // "gpu" first on a machine with a GPU, then "cpu" (see TrainingQueues).
            o.Queues = sp.GetRequiredService<TrainingQueues>().ForThisWorker();
            o.WorkerCount = sp.GetRequiredService<IOptions<StudioOptions>>().Value.TrainingWorkers;
            o.ShutdownTimeout = TrainingJob.StopGrace + TimeSpan.FromSeconds(5);
        });
        services.AddHangfireServer((_, o) =>
        {
            o.ServerName = $"{Environment.MachineName}-default";
            o.Queues = ["default"];
            o.WorkerCount = 2;
        });
        services.AddHostedService(sp => sp.GetRequiredService<RunSweeper>());
    }

    /// <summary>Blazor pages with MudBlazor and the download endpoint (when this process serves the web).</summary>
    public static void AddStudioWeb(this WebApplicationBuilder builder)
    {
        // MudBlazor's files come from its package's static web assets; `dotnet run` serves them in every environment,
        // so the README's command can start the portal as Production.
        builder.WebHost.UseStaticWebAssets();
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        builder.Services.AddMudServices();
        builder.Services.AddCascadingAuthenticationState();
        builder.Services.AddScoped<CircuitHandler, UserCircuitHandler>();
        builder.AddOpenAiApi();
        builder.Services.AddStudioOpenApi();
    }

    /// <summary>Applies EF Core migrations before anything reads the database.</summary>
    public static async Task MigrateStudioDatabaseAsync(this WebApplication app)
    {
        var factory = app.Services.GetRequiredService<IDbContextFactory<StudioDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        await BackUpBeforeMigratingAsync(db, app.Services.GetRequiredService<StudioPaths>().Database, app.Logger);
        await db.Database.MigrateAsync();
        await app.Services.GetRequiredService<FirstRunSetup>().RunAsync(app.Services, app.Configuration);
    }

    /// <summary>
    /// Copies the database file to <c>studio.db.before-&lt;migration&gt;</c> before migrations change a database that
    /// already holds data: if the process dies half-way, that copy is the way back.
    /// </summary>
    private static async Task BackUpBeforeMigratingAsync(StudioDbContext db, string databaseFile, ILogger logger)
    {
        if (!db.Database.IsSqlite() || !File.Exists(databaseFile) || !(await db.Database.GetAppliedMigrationsAsync()).Any()) return;
        var pending = (await db.Database.GetPendingMigrationsAsync()).ToList();
        if (pending.Count == 0) return;
        var backup = $"{databaseFile}.before-{pending[0]}";
        await db.Database.ExecuteSqlRawAsync("VACUUM INTO {0}", backup); // a consistent copy, even with the WAL in use
        logger.LogInformation("Updating the database to {Migration}; a copy of it from before is at {Backup}.", pending[^1], backup);
    }

    /// <summary>Pages, static files, the jobs dashboard and the file endpoints, when this process serves the web.</summary>
    public static void UseStudioWeb(this WebApplication app)
    {
        // Workers answer health probes too.
        app.MapStudioHealth();
        var options = app.Services.GetRequiredService<IOptions<StudioOptions>>().Value;
        if (!options.RunsWeb) return;
        if (!app.Environment.IsDevelopment()) app.UseExceptionHandler("/error", createScopeForErrors: true);
        app.UseSecurityHeaders();
        app.UseStaticFiles();
        app.UseAuthentication();
        app.UseAuthorization();
        // The singleton services the endpoints call filter projects by this person.
        app.Use(async (http, next) =>
        {
            using (StudioUserContext.Use(http.User)) await next(http);
        });
        app.UseRateLimiter();
        app.UseAntiforgery();
        app.MapStaticAssets().AllowAnonymous();
        app.MapAccountEndpoints();
        app.MapErrorPage();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        app.MapHangfireDashboard("/hangfire", new DashboardOptions
        {
            Authorization = [new AdministratorsOnlyDashboardFilter()],
            DashboardTitle = "SLM Studio jobs",
        }).RequireAuthorization(StudioRoles.AdministratorsPolicy);
        app.MapStudioApi();
        app.MapClassifyEndpoints();
        app.MapChatEndpoints();
        app.MapOpenAiEndpoints();
        app.MapStudioOpenApi();
    }

    /// <summary>
    /// What a person sees when a request fails outside Development: no stack trace, the request id the log has, and
    /// what to do. A plain page, so it still shows when the failure is in the pages themselves.
    /// </summary>
    private static void MapErrorPage(this WebApplication app) =>
        app.Map("/error", (HttpContext http) =>
        {
            var requestId = System.Net.WebUtility.HtmlEncode(System.Diagnostics.Activity.Current?.Id ?? http.TraceIdentifier);
            return Results.Content($"""
                <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Something went wrong — SLM Studio</title></head>
                <body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
                <h1>Something went wrong</h1>
                <p>SLM Studio could not finish this request. Nothing you saved before is lost.</p>
                <p>Go <a href="/">back to the start page</a> and try again. If it keeps happening, tell your administrator
                this reference, which points to the details in the server's log: <code>{requestId}</code></p>
                </body></html>
                """, "text/html", statusCode: StatusCodes.Status500InternalServerError);
        }).AllowAnonymous();

    /// <summary>Headers that stop other sites from framing the portal or browsers from guessing content types.</summary>
    private static void UseSecurityHeaders(this WebApplication app) =>
        app.Use(async (http, next) =>
        {
            var headers = http.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
            headers.ContentSecurityPolicy = "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";
            headers["Cross-Origin-Opener-Policy"] = "same-origin";
            await next(http);
        });

    private sealed class AdministratorsOnlyDashboardFilter : IDashboardAuthorizationFilter
    {
        public bool Authorize(DashboardContext context) => context.GetHttpContext().User.IsInRole(StudioRoles.Administrator);
    }
}

using SlmStudio.Web;

var builder = WebApplication.CreateBuilder(new WebApplicationOptions
{
    Args = args,
    // appsettings.json, wwwroot/, jobs/ and models/ live at the repository root, whatever the working directory.
    ContentRootPath = StudioHost.FindContentRoot(),
});

// Options, database, page services, jobs and the worker.
builder.AddStudioServices();
// Blazor with MudBlazor.
builder.AddStudioWeb();

var app = builder.Build();

await app.MigrateStudioDatabaseAsync();
// Pages, jobs dashboard and file endpoints.
app.UseStudioWeb();

app.Run();

using SlmStudio.Web;

var builder = WebApplication.CreateBuilder(new WebApplicationOptions
{
    Args = args,
    // appsettings.json, wwwroot/, jobs/ and models/ live at the repository root, whatever the working directory.
    ContentRootPath = StudioHost.FindContentRoot(),
});

builder.AddStudioCore();
builder.AddStudioWeb();

var app = builder.Build();

await app.MigrateStudioDatabaseAsync();
app.UseStudioWeb();

app.Run();

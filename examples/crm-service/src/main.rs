//! Serves the CRM on 127.0.0.1:8090 over the PostgreSQL `DATABASE_URL` names.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init(); // the library's line per command
    let pool = sqlx::PgPool::connect(&std::env::var("DATABASE_URL")?).await?;
    let crm = caseledger_crm::Crm::start(caseledger::PgStore::new(pool)).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8090").await?;
    axum::serve(listener, caseledger_crm::router(crm)).await?;
    Ok(())
}
